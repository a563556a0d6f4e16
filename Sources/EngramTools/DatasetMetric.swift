import EngramMetadata
import EngramDatasets
import EngramEngine
import EngramKernels

/// The metric a dataset folder's `meta.json` names (`shared/harness` writes
/// `"metric": "angular"`), so that `engram bench --dataset DIR` measures
/// against the ground truth with the metric it was computed with.
package enum DatasetMetric {
    /// The names accepted, and the metric each one means.
    static let names: [String: Metric] = [
        "angular": .cosine, "cosine": .cosine,
        "ip": .innerProduct, "dot": .innerProduct, "inner_product": .innerProduct, "inner-product": .innerProduct, "mips": .innerProduct,
        "l2": .squaredL2, "euclidean": .squaredL2, "squared_l2": .squaredL2,
    ]

    /// The metric `directory/meta.json` names, and the name as written; nil
    /// if there is no `meta.json` or it names no metric.
    package static func named(inDirectory directory: String) throws(BenchError) -> (metric: Metric, name: String)? {
        let text: String?
        do { text = try DatasetMeta.text(inDirectory: directory) } catch { throw .dataset(error) }
        guard let text else { return nil }
        let meta: MetadataValue
        do { meta = try MetadataJSON.parse(text) } catch {
            throw .inconsistentFiles("\(directory)/meta.json is not valid JSON: \(error)")
        }
        guard let field = meta["metric"] else { return nil }
        guard case .string(let name) = field, let metric = names[name.lowercased()] else {
            throw .invalidArgument(
                "\(directory)/meta.json names the metric \(MetadataJSON.format(field)), which engram bench does not know "
                    + "(it knows \(names.keys.sorted().joined(separator: ", "))): pass --metric cosine, ip or l2")
        }
        return (metric, name)
    }
}
