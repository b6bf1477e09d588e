// Placeholders for the names documentation samples use without declaring them (the reader's
// own data and functions). Only type-checked, never run: see scripts/check-doc-samples.py.
import CoreMetrics
import Foundation
import MetricsTestKit
import ServiceLifecycle
import Spindle
import SpindleMetrics
import Synchronization

let pool: ThreadPool = .shared
let data: [Int] = []
let numbers: [Int] = []
let values: [Double] = []
let input: [Int] = []
let xs: [Double] = [], ys: [Double] = []
let a: [Int] = [], b: [Int] = []
let n = 1_000
let mid = 0
let prices: [Double] = []
let taxRate = 1.2
let temperatures: [Double] = []
let sizes: [Int] = []
let words: [String] = []
let names: [String] = []
let lines: [String] = []
let fields: [String] = []
let pairs: [(Int, Int)] = []
let chunks: [[Int]] = []
let batches: [ArraySlice<String>] = []
let records: [Record] = []
let rows: [Record] = []
let people: [Person] = []
let scenes: [Scene] = []
let images: [Image] = []
let image = Image()
let tile = Tile()
let files: [File] = []
let file = File()
let entry = ""
let firstHalf: [Int] = [], secondHalf: [Int] = []
let logger = AppLogger()
let reporter = ThreadPoolMetricsReporter(pool: pool, name: "app")
let myBackend = TestMetrics()
let httpServer = HTTPServer()
let urls: [URL] = []
let messages: [Message] = []
let requests: [Request] = []
let documents: [Document] = []
let document = Document()
let catalog = Catalog()
let query = ""
let root = Directory()
let ready = Atomic<Bool>(false)
nonisolated(unsafe) var pixels: [Pixel] = []

struct Record: Sendable {
    var score = 0
    var amount = 0
    init() {}
    init?(_ line: String) {}
    init?(line: String) {}
    init(parsing line: String) throws {}
    func validate() throws -> Bool { true }
    func total() throws -> Int { score }
    func optionalID() throws -> Int? { nil }
}
/// Not `Sendable`: an accumulator that each join branch owns.
final class Histogram {
    init() {}
    func add(_ values: [Int]) {}
}
let paths: [String] = []
let fileNames: [String] = []
let text = ""
func fileSize(_ name: String) -> Int { 0 }
func loadImage(at path: String) throws -> Image? { nil }
func parseNumber(_ field: String) throws -> Int { 0 }
func parseRecord(_ line: String) -> Record { Record() }
struct Person: Sendable { var age = 0; var name = "" }
struct Scene: Sendable {}
struct Tile: Sendable {}
struct Message: Sendable {}
struct Request: Sendable { var id = 0; var image = Image() }
struct Response: Sendable { var body: Image }
struct File: Sendable { var size = 0 }
struct WorkItem: Sendable { func run() {} }
struct AppLogger: Sendable { func warning(_ message: String) {}; func info(_ message: String) {} }
struct HTTPServer: Service { func run() async throws {} }
struct Document: Sendable {}
struct Catalog: Sendable {}
struct Directory: Sendable { var files: [URL] = []; var subdirectories: [Directory] = [] }
struct Pixel: Sendable { func gammaCorrected(_ gamma: Double) -> Pixel { self } }
struct Image: Sendable {
    var pixels: [Pixel] = []
    func scaled(toWidth width: Int) -> Image { self }
    func writeThumbnail() throws {}
}
final class Node: Sendable {
    let value: Int
    let left: Node?, right: Node?
    init(value: Int, left: Node?, right: Node?) { (self.value, self.left, self.right) = (value, left, right) }
}
enum ValidationError: Error { case invalid }

func work() {}
func work(_ i: Int) -> Int { i }
func part(_ i: Int) -> Int { i }
func crunch() -> Int { 0 }
func crunch(_ data: [Int]) -> Int { 0 }
func process(_ chunk: [Int]) -> Int { 0 }
func process(_ message: Message) async throws {}
func transform(_ x: Int) -> Int { x }
func transform(_ x: Double) -> Double { x }
func transform(_ record: Record) -> Record { record }
func render(_ scene: Scene) -> Image { Image() }
func render(_ tile: Tile) -> Image { Image() }
func render(_ image: Image) -> Image { image }
func render(_ pool: ThreadPool) {}
func renderHeader() -> String { "" }
func renderBody() -> String { "" }
func renderFooter() -> String { "" }
func renderPreview(_ document: Document) -> Image { Image() }
func makeThumbnail(_ image: Image) async throws -> Image { image }
func checksum(_ file: File) -> Int { 0 }
func download(_ url: URL) async throws -> Data { Data() }
func fetch(_ url: URL) async throws -> Data { Data() }
func fetch(_ id: Int) async throws -> Record { Record() }
func store(_ bytes: Data) async throws {}
func upload(_ file: File) throws {}
func isPrime(_ n: Int) -> Bool { n > 1 }
func matches(_ record: Record) -> Bool { true }
func matchesQuery(_ record: Record) -> Bool { true }
func expensive(_ i: Int) -> Int { i }
func left() -> Int { 0 }
func right() -> Int { 0 }
func loadMesh() -> [Float] { [] }
func loadTextures() -> [UInt8] { [] }
func loadSounds() -> [Int16] { [] }
func loadNumbers() -> [Int] { [] }
func loadPeople() -> [Person] { [] }
func loadSamples() -> [Double] { [] }
func search(_ catalog: Catalog, for query: String) throws -> [Record] { [] }
func search(_ query: String) -> [Record] { [] }
func serve(_ request: Request) {}
func index(_ part: [Int]) {}
func index(_ document: Document) {}
func sum(_ xs: [Int]) -> Int { 0 }
func parse(_ line: String) throws -> Record { Record() }
func sequentialSum(_ node: Node?) -> Int { 0 }
func validate(_ part: [Int]) throws(ValidationError) {}
func warmCache(_ index: Int) {}
func warmCaches() {}
func warmThreadLocalCache(_ index: Int) {}
func collectStatistics() -> Int { 0 }
func flushCaches() {}
func writeLog(_ entry: String) {}
func shedLoad() {}
func spinBriefly() {}
func summarize(_ records: [Record]) -> String { "" }
let url = URL(fileURLWithPath: "/")
let ids: [Int] = []
let host = "example.com"
struct Subscriber: Sendable {}
let subscriber = Subscriber()
func notify(_ subscriber: Subscriber) async {}
func refresh(_ id: Int) async {}
func refreshCache() {}
func size(of url: URL) async throws -> Int { 0 }
func ping(_ host: String) async throws {}
func backUp(_ url: URL) async throws {}
func load(part: Int) async throws -> Data { Data() }
struct ScratchBuffer {
    init(capacity: Int) {}
}
extension Image {
    func writeThumbnail(using scratch: inout ScratchBuffer) throws {}
}
enum Hasher {
    struct Scratch {
        func digest(of file: File) -> Int { 0 }
    }
}
let logLines: [String] = []
let readings: [Int] = []
let timestamps: [Int] = []
let samples: [Double] = []
let lengths: [Int] = []
let wanted = 0
final class Results: Sendable {
    func add(_ value: Int) {}
}
func process(_ data: Data?) {}
