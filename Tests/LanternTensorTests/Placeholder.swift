import Testing
@testable import LanternTensor
