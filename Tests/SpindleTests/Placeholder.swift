import Testing
@testable import Spindle
