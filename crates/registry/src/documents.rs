//! An application's documents: the contract's text (without which it
//! cannot be submitted), annexes, invoices and proofs. A document is PDF,
//! JPEG or PNG as its bytes say (never as its name or the client says), at
//! most `registration.max_document_mb`, kept with its SHA-256, and never
//! changed: a wrong one is removed from a draft and uploaded again. The
//! bytes are kept under the data directory, or in the database when
//! several replicas serve the platform. Only the parties and officials
//! read them; each upload and each read is in the audit log.

use std::io::Write;
use std::path::{Path, PathBuf};

use axum::extract::Multipart;
use sha2::{Digest, Sha256};
use techtrade_db::registry::{self, Application, Document};
use techtrade_db::{AnyConnection, audit};
use techtrade_domain::ids;
use techtrade_domain::registration::{ApplicationStatus, DocumentKind};
use techtrade_web::{ApiError, ApiResult, AppState, CurrentUser, ErrorCode};
use utoipa::ToSchema;

use crate::RegistrySettings;
use crate::service::{Standing, record, status_of, visible, wrong_state};
use crate::views::DocumentView;

/// Where the bytes of documents are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentStore {
    /// A file per document under this directory (`<application>/<document>`).
    Files(PathBuf),
    /// In the database, for replicas that share no disk.
    Database,
}

/// The media types accepted, as read from the bytes.
const ACCEPTED: [&str; 3] = ["application/pdf", "image/jpeg", "image/png"];

/// The upload form (`multipart/form-data`).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The document: PDF, JPEG or PNG, as its bytes show.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    kind: DocumentKind,
}

/// A document as received.
#[derive(Debug)]
pub struct Upload {
    kind: DocumentKind,
    file_name: String,
    bytes: Vec<u8>,
}

fn form_error(field: &str, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::invalid_field(field, code, message)
}

/// Reads the form: `kind` and `file`, the file at most `max_bytes` (413 beyond).
pub async fn read_upload(mut form: Multipart, max_bytes: usize) -> ApiResult<Upload> {
    let malformed = |e: axum::extract::multipart::MultipartError| {
        ApiError::new(ErrorCode::MalformedJson, format!("the multipart body cannot be read: {e}"))
    };
    let (mut kind, mut file) = (None, None);
    while let Some(mut field) = form.next_field().await.map_err(malformed)? {
        match field.name() {
            Some("kind") => {
                let text = field.text().await.map_err(malformed)?;
                kind =
                    Some(DocumentKind::from_db(text.trim()).ok_or_else(|| {
                        form_error("kind", "unknown", format!("one of {}", DocumentKind::spellings()))
                    })?);
            }
            Some("file") => {
                let file_name = display_name(field.file_name().unwrap_or_default());
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(malformed)? {
                    if bytes.len() + chunk.len() > max_bytes {
                        return Err(ApiError::new(
                            ErrorCode::PayloadTooLarge,
                            format!("a document is at most {} MB", max_bytes / (1024 * 1024)),
                        )
                        .with_field("file", "too_large", format!("at most {max_bytes} bytes")));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                file = Some((file_name, bytes));
            }
            // Other parts are not ours to keep.
            _ => {}
        }
    }
    let kind = kind.ok_or_else(|| form_error("kind", "required", "say what the document is"))?;
    let (file_name, bytes) = file.ok_or_else(|| form_error("file", "required", "attach the document"))?;
    if bytes.is_empty() {
        return Err(form_error("file", "empty", "the file is empty"));
    }
    Ok(Upload { kind, file_name, bytes })
}

/// The name to show: the last part of what the browser sent, without
/// control characters, at most 200 characters.
fn display_name(sent: &str) -> String {
    let last = sent.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = last.chars().filter(|c| !c.is_control()).take(200).collect();
    match clean.trim() {
        "" => "document".to_string(),
        name => name.to_string(),
    }
}

/// What the bytes are, when they are a type we take.
fn media_type_of(bytes: &[u8]) -> ApiResult<&'static str> {
    match infer::get(bytes) {
        Some(found) if ACCEPTED.contains(&found.mime_type()) => Ok(found.mime_type()),
        found => {
            let what =
                found.map_or("of no recognised type".to_string(), |t| format!("{} ({})", t.mime_type(), t.extension()));
            Err(form_error("file", "unsupported_type", format!("the file is {what}: upload PDF, JPEG or PNG")))
        }
    }
}

/// The stored media type as a header value (only accepted ones are stored).
pub fn content_type(media_type: &str) -> &'static str {
    ACCEPTED.into_iter().find(|accepted| *accepted == media_type).unwrap_or("application/octet-stream")
}

fn document_path(root: &Path, application_id: &str, document_id: &str) -> PathBuf {
    // Both are ids the platform made: no part of the path comes from the client.
    root.join(application_id).join(document_id)
}

/// Writes the bytes to a new file, whole or not at all (a temporary name, then renamed).
fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().ok_or_else(|| std::io::Error::other("a document path has no directory"))?;
    std::fs::create_dir_all(dir)?;
    let temporary = path.with_extension("part");
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

fn storage_error(what: &str, error: std::io::Error) -> ApiError {
    ApiError::internal(format!("document storage: {what}: {error}"))
}

/// Whether the seller may still add documents: not once the application is
/// refused or the registration cancelled.
fn accepts_documents(status: ApplicationStatus) -> bool {
    !matches!(status, ApplicationStatus::Refused | ApplicationStatus::Cancelled)
}

fn audit_document(
    conn: &mut AnyConnection,
    user: &CurrentUser,
    application: &Application,
    action: &str,
    document: &Document,
    request_id: Option<&str>,
) -> ApiResult<()> {
    audit::append(
        conn,
        audit::AuditEntry {
            actor_user_id: Some(&user.user_id),
            action,
            subject_type: "registration_document",
            subject_id: &document.id,
            after: Some(serde_json::json!({
                "application_id": application.id,
                "kind": document.kind,
                "file_name": document.file_name,
                "media_type": document.media_type,
                "size_bytes": document.size_bytes,
                "sha256": document.sha256,
            })),
            request_id,
            organization_id: Some(&application.seller_organization_id),
            ..Default::default()
        },
    )?;
    Ok(())
}

/// The seller adds a document to its application.
pub async fn upload(
    state: &AppState,
    settings: &RegistrySettings,
    user: &CurrentUser,
    request_id: Option<String>,
    id: String,
    upload: Upload,
) -> ApiResult<DocumentView> {
    let media_type = media_type_of(&upload.bytes)?;
    let size_bytes = i64::try_from(upload.bytes.len()).map_err(|_| ApiError::internal("a document's size"))?;
    let document = Document {
        id: ids::new_id(),
        application_id: id.clone(),
        kind: upload.kind.as_str().to_string(),
        file_name: upload.file_name,
        media_type: media_type.to_string(),
        size_bytes,
        sha256: hex::encode(Sha256::digest(&upload.bytes)),
        uploaded_by: user.user_id.clone(),
        uploaded_at: techtrade_db::now(),
    };
    let (user, store, bytes) = (user.clone(), settings.documents.clone(), upload.bytes);
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let (application, standing) = visible(conn, &user, &id)?;
                if standing != Standing::Seller {
                    return Err(ApiError::forbidden("the seller adds the documents"));
                }
                let status = status_of(&application)?;
                if !accepts_documents(status) {
                    return Err(wrong_state(status, "given documents"));
                }
                let path = match &store {
                    DocumentStore::Files(root) => Some(document_path(root, &id, &document.id)),
                    DocumentStore::Database => None,
                };
                let content = path.is_none().then_some(bytes.as_slice());
                registry::insert_document(conn, &document, content)?;
                let message = format!("{}: {}", document.kind, document.file_name);
                record(
                    conn,
                    &application,
                    "document_added",
                    Some(message),
                    &user,
                    request_id.as_deref(),
                    document.uploaded_at,
                )?;
                audit_document(
                    conn,
                    &user,
                    &application,
                    "registration.document_upload",
                    &document,
                    request_id.as_deref(),
                )?;
                // Last, so that a refused row leaves no file behind; a
                // commit that fails after it leaves a file no row names.
                if let Some(path) = &path {
                    write_file(path, &bytes).map_err(|e| storage_error("writing", e))?;
                }
                Ok(DocumentView::from(document))
            })
        })
        .await
}

/// A document's bytes, for the parties and officials (anyone else: 404).
pub async fn read(
    state: &AppState,
    settings: &RegistrySettings,
    user: &CurrentUser,
    request_id: Option<String>,
    id: String,
    document_id: String,
) -> ApiResult<(DocumentView, Vec<u8>)> {
    let (user, store) = (user.clone(), settings.documents.clone());
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let (application, _) = visible(conn, &user, &id)?;
                let (document, content) =
                    registry::find_document(conn, &id, &document_id)?.ok_or_else(|| ApiError::not_found("document"))?;
                let bytes = match (content, &store) {
                    (Some(bytes), _) => bytes,
                    (None, DocumentStore::Files(root)) => std::fs::read(document_path(root, &id, &document.id))
                        .map_err(|e| storage_error("reading", e))?,
                    (None, DocumentStore::Database) => {
                        return Err(ApiError::internal(
                            "the document's bytes are on disk but storage is set to the database",
                        ));
                    }
                };
                audit_document(
                    conn,
                    &user,
                    &application,
                    "registration.document_read",
                    &document,
                    request_id.as_deref(),
                )?;
                Ok((DocumentView::from(document), bytes))
            })
        })
        .await
}

/// The seller removes a document from its draft.
pub async fn remove(
    state: &AppState,
    settings: &RegistrySettings,
    user: &CurrentUser,
    request_id: Option<String>,
    id: String,
    document_id: String,
) -> ApiResult<()> {
    let (user, store) = (user.clone(), settings.documents.clone());
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let (application, standing) = visible(conn, &user, &id)?;
                let (document, _) =
                    registry::find_document(conn, &id, &document_id)?.ok_or_else(|| ApiError::not_found("document"))?;
                if standing != Standing::Seller {
                    return Err(ApiError::forbidden("the seller removes its documents"));
                }
                let status = status_of(&application)?;
                if status != ApplicationStatus::Draft {
                    return Err(wrong_state(status, "changed: the office has its documents"));
                }
                registry::delete_document(conn, &id, &document_id)?;
                let message = format!("{}: {}", document.kind, document.file_name);
                let now = techtrade_db::now();
                record(conn, &application, "document_removed", Some(message), &user, request_id.as_deref(), now)?;
                audit_document(
                    conn,
                    &user,
                    &application,
                    "registration.document_delete",
                    &document,
                    request_id.as_deref(),
                )?;
                if let DocumentStore::Files(root) = &store {
                    match std::fs::remove_file(document_path(root, &id, &document_id)) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(storage_error("removing", e)),
                        _ => {}
                    }
                }
                Ok(())
            })
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_is_read_from_the_bytes() {
        assert_eq!(media_type_of(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n").ok(), Some("application/pdf"));
        assert_eq!(media_type_of(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").ok(), Some("image/png"));
        assert_eq!(media_type_of(b"\xff\xd8\xff\xe0\0\x10JFIF\0").ok(), Some("image/jpeg"));
        // A ZIP (an .docx, say) named contract.pdf is still a ZIP.
        assert!(media_type_of(b"PK\x03\x04\x14\0\0\0\x08\0").is_err());
        assert!(media_type_of(b"plain text pretending").is_err());
    }

    #[test]
    fn only_the_last_part_of_a_name_is_kept() {
        assert_eq!(display_name("C:\\Users\\张三\\合同.pdf"), "合同.pdf");
        assert_eq!(display_name("../../etc/passwd"), "passwd");
        assert_eq!(display_name("a\u{0}b\nc.png"), "abc.png");
        assert_eq!(display_name(""), "document");
    }
}
