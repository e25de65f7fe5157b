import CheckedInput
import BlobStore
import CoreMetrics
import Custody
import Exhibit
import ExhibitModel
import ExhibitPolicies
import ExhibitCrypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import MediaProbe
import NIOCore

/// An exhibit as the API shows it.
struct ExhibitJSON: Encodable {
    let exhibit: ExhibitRecord
    var chunks: Int?
    var newBytes: Int64?
    var plan: WorkingCopyPlan?
    var copies: [ExhibitJSON]?

    init(_ exhibit: ExhibitRecord) { self.exhibit = exhibit }

    enum CodingKeys: String, CodingKey {
        case id, `case`, caseID = "case_id", reference, filename, sha256, size, uploadedBy = "uploaded_by"
        case uploadedAt = "uploaded_at", verdict, integrity, media, coverage, contentType = "content_type", links
        case chunks, newBytes = "new_bytes"
        case masterID = "master_id", lineage, workingCopyStatus = "working_copy_status", workingCopyError = "working_copy_error"
        case playback, workingCopies = "working_copies"
        case state, deletion, retention
        case submittedThrough = "submitted_through"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(exhibit.id, forKey: .id)
        try c.encode(exhibit.caseReference, forKey: .case)
        try c.encode(exhibit.caseID, forKey: .caseID)
        try c.encode(exhibit.reference, forKey: .reference)
        try c.encode(exhibit.filename, forKey: .filename)
        try c.encode(exhibit.sha256.hex, forKey: .sha256)
        try c.encode(exhibit.size, forKey: .size)
        try c.encode(exhibit.uploadedBy, forKey: .uploadedBy)
        try c.encode(exhibit.uploadedAt, forKey: .uploadedAt)
        try c.encode(exhibit.verdict, forKey: .verdict)
        try c.encodeIfPresent(exhibit.integrity, forKey: .integrity)
        try c.encodeIfPresent(exhibit.media, forKey: .media)
        try c.encodeIfPresent(exhibit.coverage, forKey: .coverage)
        try c.encode(ContentResponse.mediaType(exhibit), forKey: .contentType)
        var links = ["self": "/v1/exhibits/\(exhibit.id)", "content": "/v1/exhibits/\(exhibit.id)/content"]
        if !exhibit.isWorkingCopy { links["working_copy"] = "/v1/exhibits/\(exhibit.id)/working-copy" }
        try c.encode(links, forKey: .links)
        try c.encodeIfPresent(chunks, forKey: .chunks)
        try c.encodeIfPresent(newBytes, forKey: .newBytes)
        try c.encodeIfPresent(exhibit.masterID, forKey: .masterID)
        try c.encodeIfPresent(exhibit.lineage, forKey: .lineage)
        try c.encode(exhibit.state, forKey: .state)
        try c.encodeIfPresent(exhibit.deletion, forKey: .deletion)
        try c.encodeIfPresent(exhibit.retention, forKey: .retention)
        try c.encodeIfPresent(exhibit.submittedThrough, forKey: .submittedThrough)
        try c.encodeIfPresent(exhibit.workingCopyStatus, forKey: .workingCopyStatus)
        try c.encodeIfPresent(exhibit.workingCopyError, forKey: .workingCopyError)
        try c.encodeIfPresent(plan, forKey: .playback)
        try c.encodeIfPresent(copies, forKey: .workingCopies)
    }
}
