import Exhibit

/// Translates HTTP to `EvidenceStore` use-cases; no storage or SQL here. One file per resource
/// (`Controllers+Users.swift`, `+Cases`, `+Uploads`, `+Exhibits`, `+Custody`, `+Operations`); the share links,
/// resumable uploads and retention have controllers of their own, the request bodies `RequestBodies.swift`.
struct Controllers: Sendable {
    let store: EvidenceStore
    let metrics: ExhibitMetrics
    let openAPI: String
    let workingCopies: WorkingCopyService?
}
