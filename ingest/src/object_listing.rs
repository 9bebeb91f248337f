//! The replay layout in an object store, listed with delimiters: the batch prefixes below
//! a root (names only), then each batch's `*.rec` objects when they are wanted.

use object_store::path::Path as ObjectPath;

use crate::dir_feed::ListedFile;
use crate::object_store::StoreAt;

/// Every batch below the root, by name, sorted.
pub async fn batch_prefixes(at: &StoreAt) -> Result<Vec<(String, ObjectPath)>, object_store::Error> {
    let listing = at.store.list_with_delimiter(Some(&at.prefix)).await?;
    let mut batches: Vec<(String, ObjectPath)> =
        listing.common_prefixes.into_iter().filter_map(|p| Some((p.filename()?.to_owned(), p))).collect();
    batches.sort();
    Ok(batches)
}

/// The `*.rec` objects directly inside a batch prefix, sorted by id; their locations are
/// object paths.
pub async fn batch_files(at: &StoreAt, batch: &ObjectPath) -> Result<Vec<ListedFile>, object_store::Error> {
    let listing = at.store.list_with_delimiter(Some(batch)).await?;
    let mut files: Vec<ListedFile> = listing
        .objects
        .into_iter()
        .filter_map(|o| {
            let file_id = o.location.filename()?.to_owned();
            file_id.ends_with(".rec").then(|| ListedFile {
                file_id,
                location: o.location.to_string(),
                size: Some(o.size),
            })
        })
        .collect();
    files.sort();
    Ok(files)
}
