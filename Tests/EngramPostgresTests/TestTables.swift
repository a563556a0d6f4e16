/// A table name no other test run uses.
func uniqueTable(_ label: String) -> String {
    "engram_test_\(label)_\(UInt32.random(in: 0...UInt32.max))"
}
