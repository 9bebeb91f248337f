//! The second half of `argus prune`: deleting the uploaded files of pruned batches from
//! the object store, after the prune transactions listed them (`pruned_objects`,
//! sinks/src/store/prune.rs) and committed.

use std::path::Path;

use anyhow::Context;
use argus_api::Objects;
use argus_sinks::Store;
use argus_sinks::store::PrunedObject;

/// How many listed objects are read, deleted and forgotten at a time.
const CHUNK: u32 = 256;

/// What [`delete`] did.
#[derive(Debug, Default)]
pub struct Deleted {
    pub deleted: u64,
    /// Listed, but the object store said they were already gone.
    pub missing: u64,
}

/// The object store named (`s3://…`, `file:///…` or an existing directory), or `argus
/// serve`'s default one under `data_dir` if it exists. Pruning creates no directory
/// ([`Objects::open_existing`]).
pub fn object_store(spec: Option<&str>, data_dir: &Path) -> anyhow::Result<Option<Objects>> {
    let spec = match spec {
        Some(spec) => spec.to_owned(),
        None => {
            let dir = data_dir.join("objects");
            if !dir.is_dir() {
                return Ok(None);
            }
            dir.to_string_lossy().into_owned()
        }
    };
    let objects = Objects::open_existing(&spec).map_err(|e| anyhow::anyhow!("object store {spec}: {e}"))?;
    Ok(Some(objects))
}

/// Deletes every listed object of pruned batches and forgets each once deleted, oldest
/// first. An object that cannot be deleted stays listed and the run goes on past it; the
/// command then fails, naming the first. An object store holding no upload at all while
/// objects are listed is taken for the wrong one and nothing is forgotten, unless
/// `forget_missing`.
pub async fn delete(store: &Store, objects: &Objects, forget_missing: bool) -> anyhow::Result<Deleted> {
    let listed = store.pruned_object_count().await.context("counting the objects of pruned batches")?;
    if listed == 0 {
        return Ok(Deleted::default());
    }
    let holds_uploads = objects.holds_uploads().await.context("listing the object store")?;
    if !holds_uploads && !forget_missing {
        anyhow::bail!(
            "{listed} uploaded object(s) of pruned batches are listed, but the object store holds no upload: \
             is it the one argus serve uploads to? (--object-store; --forget-missing drops the list)"
        );
    }
    let mut done = Deleted::default();
    let mut failed: Option<(String, String)> = None;
    let mut after: Option<PrunedObject> = None;
    loop {
        let chunk = store
            .pruned_objects(after.as_ref(), CHUNK)
            .await
            .context("reading the objects of pruned batches")?;
        let Some(last) = chunk.last().cloned() else { break };
        let mut gone = Vec::with_capacity(chunk.len());
        for object in chunk {
            match objects.delete_uri(&object.uri).await {
                Ok(true) => done.deleted += 1,
                Ok(false) => done.missing += 1,
                Err(error) => {
                    tracing::warn!(uri = %object.uri, %error, "cannot delete an object of a pruned batch");
                    failed.get_or_insert((object.uri, error.to_string()));
                    continue;
                }
            }
            gone.push(object.uri);
        }
        store.forget_pruned_objects(&gone).await.context("updating the objects of pruned batches")?;
        after = Some(last);
    }
    if let Some((uri, error)) = failed {
        anyhow::bail!(
            "deleted {} uploaded object(s) of pruned batches, but could not delete {uri}: {error} \
             (it stays listed, with any other that failed; run the prune again)",
            done.deleted
        );
    }
    Ok(done)
}
