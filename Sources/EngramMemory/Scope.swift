/// Who may see an object: every object belongs to one tenant and is
/// visible to its agent only, or to every agent of a declared group of
/// that tenant (``Agent/groups``).
///
/// Scope is an exact key, never a prefix: a recall for agent `a` of tenant
/// `t` admits exactly the objects whose tenant equals `t` and whose agent
/// equals `a` or whose group is one of `a`'s groups, and this condition is
/// the search's filter inside the index (so a recall returns `min(k,
/// visible)` hits and never another tenant's).
public enum Visibility: Sendable, Equatable, Hashable {
    /// Its agent only.
    case agent
    /// Every agent of the tenant that belongs to this group.
    case group(String)
}
