import Testing
@testable import LanternTokenizers
