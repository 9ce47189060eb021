import Testing
@testable import LanternModels
