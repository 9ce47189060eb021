import Testing
@testable import LanternFormats
