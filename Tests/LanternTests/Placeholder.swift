import Testing
@testable import Lantern
