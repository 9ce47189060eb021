import Testing
@testable import LanternGeneration
