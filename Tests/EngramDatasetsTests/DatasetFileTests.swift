import EngramDatasets
import EngramTestSupport
import Testing

private func littleEndianBytes(_ values: [UInt32]) -> [UInt8] {
    values.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
}

@Suite("Dataset files: .fvecs, .ivecs, .fbin, .ibin")
struct DatasetFileTests {
    @Test("every format round-trips", arguments: DatasetFormat.allCases)
    func roundTrip(format: DatasetFormat) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var rng = SeededGenerator.forTest("roundTrip.\(format)", defaultSeed: 21)
        let path = dir.file("m.\(format.rawValue)")
        for (rows, columns) in [(0, 3), (1, 1), (7, 50), (1000, 13)] {
            if format.holdsFloats {
                let m = FloatMatrix(rows: rows, columns: columns, values: (0..<(rows * columns)).map { _ in rng.gaussian() })!
                try DatasetWriter.write(m, to: path)
                let back = try DatasetReader.readFloats(path)
                #expect(back.values == m.values)
                #expect(back.rows == rows)
                if rows > 0 || !format.hasRowHeaders { #expect(back.columns == columns) }
            } else {
                let m = Int32Matrix(rows: rows, columns: columns, values: (0..<(rows * columns)).map { _ in Int32.random(in: .min ... .max, using: &rng) })!
                try DatasetWriter.write(m, to: path)
                let back = try DatasetReader.readInt32s(path)
                #expect(back.values == m.values)
                #expect(back.rows == rows)
            }
        }
    }

    @Test("the byte layout is the TEXMEX / BigANN one, little-endian")
    func byteLayout() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let m = FloatMatrix(rows: 2, columns: 2, values: [1, 2, 3, -0.5])!
        try DatasetWriter.write(m, to: dir.file("a.fvecs"))
        #expect(dir.read("a.fvecs") == littleEndianBytes([2, 0x3F80_0000, 0x4000_0000, 2, 0x4040_0000, 0xBF00_0000]))
        try DatasetWriter.write(m, to: dir.file("a.fbin"))
        #expect(dir.read("a.fbin") == littleEndianBytes([2, 2, 0x3F80_0000, 0x4000_0000, 0x4040_0000, 0xBF00_0000]))
        let ids = Int32Matrix(rows: 1, columns: 3, values: [5, -1, 7])!
        try DatasetWriter.write(ids, to: dir.file("g.ivecs"))
        #expect(dir.read("g.ivecs") == littleEndianBytes([3, 5, 0xFFFF_FFFF, 7]))
    }

    @Test("a limit reads only the first rows")
    func limit() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let m = FloatMatrix(rows: 5, columns: 2, values: (0..<10).map(Float.init))!
        for ext in ["fvecs", "fbin"] {
            try DatasetWriter.write(m, to: dir.file("m.\(ext)"))
            let back = try DatasetReader.readFloats(dir.file("m.\(ext)"), limit: 2)
            #expect(back.rows == 2)
            #expect(back.values == [0, 1, 2, 3])
        }
    }

    @Test("every truncation gives a corrupt-file error naming file and offset", arguments: DatasetFormat.allCases)
    func truncationAtEveryOffset(format: DatasetFormat) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let name = "t.\(format.rawValue)"
        let path = dir.file(name)
        if format.holdsFloats {
            try DatasetWriter.write(FloatMatrix(rows: 3, columns: 4, values: (0..<12).map(Float.init))!, to: path)
        } else {
            try DatasetWriter.write(Int32Matrix(rows: 3, columns: 4, values: Array(0..<12))!, to: path)
        }
        let full = dir.read(name)
        for cut in 1..<full.count {
            dir.write(Array(full[0..<cut]), to: name)
            if format.hasRowHeaders && cut % 20 == 0 {
                // A cut at a row boundary leaves a valid, shorter file: TEXMEX
                // has no row count, so it cannot be told from a short file.
                let rows = format.holdsFloats ? try DatasetReader.readFloats(path).rows : try DatasetReader.readInt32s(path).rows
                #expect(rows == cut / 20)
                continue
            }
            let error = #expect(throws: DatasetError.self, "cut at \(cut)") {
                if format.holdsFloats { _ = try DatasetReader.readFloats(path) } else { _ = try DatasetReader.readInt32s(path) }
            }
            #expect(error?.kind == .corrupt, "cut at \(cut): \(String(describing: error))")
            #expect(error?.path == path)
            #expect(error?.offset != nil && error!.offset! <= cut)
        }
    }

    @Test("a row whose header disagrees is reported at its offset")
    func inconsistentRow() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        // Two 2-d rows, then a row that claims 3 but has room for 2.
        dir.write(littleEndianBytes([2, 0, 0, 2, 0, 0, 3, 0, 0]), to: "bad.fvecs")
        let error = #expect(throws: DatasetError.self) { try DatasetReader.readFloats(dir.file("bad.fvecs")) }
        #expect(error?.kind == .corrupt)
        #expect(error?.offset == 24)
        #expect(error?.description.contains("bad.fvecs at byte 24") == true)
    }

    @Test("absurd headers, trailing bytes and wrong kinds are typed errors")
    func badHeaders() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        dir.write(littleEndianBytes([0xFFFF_FFFF, 1, 2]), to: "neg.fvecs")
        #expect(throws: DatasetError.self) { try DatasetReader.readFloats(dir.file("neg.fvecs")) }
        dir.write(littleEndianBytes([1, 1, 0, 9]), to: "trail.fbin")
        let trailing = #expect(throws: DatasetError.self) { try DatasetReader.readFloats(dir.file("trail.fbin")) }
        #expect(trailing?.offset == 12)
        dir.write(littleEndianBytes([0x8000_0000, 1]), to: "neg.ibin")
        #expect(throws: DatasetError.self) { try DatasetReader.readInt32s(dir.file("neg.ibin")) }
        let kind = #expect(throws: DatasetError.self) { try DatasetReader.readFloats(dir.file("x.ivecs")) }
        #expect(kind?.kind == .invalidArgument)
        let missing = #expect(throws: DatasetError.self) { try DatasetReader.readFloats(dir.file("missing.fvecs")) }
        #expect(missing?.kind == .io)
        #expect(missing?.errno != nil)
        let unknown = #expect(throws: DatasetError.self) { try DatasetReader.readFloats(dir.file("x.csv")) }
        #expect(unknown?.kind == .invalidArgument)
    }

    @Test("random byte flips never crash the reader")
    func randomMutations() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var rng = SeededGenerator.forTest("randomMutations", defaultSeed: 22)
        try DatasetWriter.write(FloatMatrix(rows: 4, columns: 3, values: (0..<12).map(Float.init))!, to: dir.file("m.fvecs"))
        try DatasetWriter.write(FloatMatrix(rows: 4, columns: 3, values: (0..<12).map(Float.init))!, to: dir.file("m.fbin"))
        for name in ["m.fvecs", "m.fbin"] {
            let original = dir.read(name)
            for _ in 0..<300 {
                var bytes = original
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
                dir.write(bytes, to: name)
                do {
                    let m = try DatasetReader.readFloats(dir.file(name))
                    #expect(m.values.count == m.rows * m.columns)
                } catch {
                    #expect(error.kind == .corrupt)
                }
            }
        }
    }
}
