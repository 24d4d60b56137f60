//! `Cluster::StoreInfo` and the decisions `Cluster::create_store` makes (cluster.md 1.8,
//! Zeek reference `Cluster::stores`, `default_backend`, `default_persistent_backend`,
//! `default_master_node`, `default_store_dir`, `Broker::default_clone_*_interval`).

use super::backend::{
    validate_store_name, Backend, BackendKind, MemoryBackend, SqliteBackend, SqliteOptions,
};
use super::clone::CloneConfig;
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// `Broker::BackendOptions`: the SQLite part (RocksDB is gone from Broker).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BackendOptions {
    /// `options$sqlite$path`; empty = not set.
    pub sqlite_path: String,
    pub sqlite: SqliteOptions,
}

impl BackendOptions {
    /// Sets one of Broker's backend options by name (`Broker::BackendOptions`, the
    /// catalogue's `Scope::Backend`): `path` (the SQLite file), `synchronous`
    /// (`Broker::SQLITE_SYNCHRONOUS_OFF|NORMAL|FULL|EXTRA` or just `NORMAL`...),
    /// `journal_mode` (`Broker::SQLITE_JOURNAL_MODE_DELETE|WAL` or `WAL`...),
    /// `integrity_check` (T/F). Shared by the cluster's store table and
    /// `Endpoint::attach_master`.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let spec = crate::options::lookup(&[crate::options::Scope::Backend], key)?;
        let v = spec.parse(value)?;
        self.apply(spec, &v)
    }

    /// Applies a parsed value of a `Scope::Backend` option.
    pub(crate) fn apply(
        &mut self,
        spec: &crate::options::Spec,
        v: &crate::options::OptionValue,
    ) -> Result<()> {
        match (spec.name, v) {
            ("path", crate::options::OptionValue::String(p)) => self.sqlite_path = p.clone(),
            ("synchronous" | "journal_mode", crate::options::OptionValue::Enum(e)) => {
                self.sqlite.set(spec.name, e)?
            }
            ("integrity_check", crate::options::OptionValue::Bool(b)) => {
                self.sqlite.integrity_check = *b
            }
            ("zc_storage_nice", crate::options::OptionValue::Count(n)) => {
                self.sqlite.set(spec.name, &n.to_string())?
            }
            ("zc_storage_idle", crate::options::OptionValue::Bool(b)) => {
                self.sqlite.storage_idle = *b
            }
            _ => {
                return Err(Error::new(
                    crate::ErrorKind::Internal,
                    format!("backend option {} is not applied", spec.name),
                ))
            }
        }
        Ok(())
    }

    /// The SQLite file of store `name`: the configured path, else `<name>.sqlite` in the
    /// working directory.
    pub fn sqlite_path_for(&self, name: &str) -> Result<PathBuf> {
        validate_store_name(name)?;
        if self.sqlite_path.is_empty() {
            Ok(PathBuf::from(format!("{name}.sqlite")))
        } else {
            Ok(PathBuf::from(&self.sqlite_path))
        }
    }

    /// Opens the backend a master of store `name` keeps its data in (a SQLite file is
    /// created if missing).
    pub fn open_backend(&self, name: &str, kind: BackendKind) -> Result<Box<dyn Backend>> {
        Ok(match kind {
            BackendKind::Memory => Box::new(MemoryBackend::new()),
            BackendKind::Sqlite => Box::new(SqliteBackend::open(
                self.sqlite_path_for(name)?,
                &self.sqlite,
            )?),
        })
    }
}

/// Intervals in nanoseconds, as everywhere in the store core.
pub const DEFAULT_CLONE_RESYNC_INTERVAL: i64 = 10_000_000_000;
pub const DEFAULT_CLONE_STALE_INTERVAL: i64 = 300_000_000_000;
pub const DEFAULT_CLONE_MUTATION_BUFFER_INTERVAL: i64 = 120_000_000_000;

/// `Cluster::StoreInfo`. `H` is the type of the `store` handle slot (the driver's store
/// handle); `None` until the store is created.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreInfo<H> {
    pub name: Option<String>,
    pub store: Option<H>,
    pub master_node: String,
    pub master: bool,
    pub backend: BackendKind,
    pub options: BackendOptions,
    pub clone_resync_interval: i64,
    pub clone_stale_interval: i64,
    pub clone_mutation_buffer_interval: i64,
}

/// The redefinable options `create_store` consults.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreDefaults {
    pub default_backend: BackendKind,
    pub default_persistent_backend: BackendKind,
    pub default_master_node: String,
    pub default_store_dir: String,
    pub default_clone_resync_interval: i64,
    pub default_clone_stale_interval: i64,
    pub default_clone_mutation_buffer_interval: i64,
}

impl Default for StoreDefaults {
    fn default() -> Self {
        StoreDefaults {
            default_backend: BackendKind::Memory,
            default_persistent_backend: BackendKind::Sqlite,
            default_master_node: String::new(),
            default_store_dir: String::new(),
            default_clone_resync_interval: DEFAULT_CLONE_RESYNC_INTERVAL,
            default_clone_stale_interval: DEFAULT_CLONE_STALE_INTERVAL,
            default_clone_mutation_buffer_interval: DEFAULT_CLONE_MUTATION_BUFFER_INTERVAL,
        }
    }
}

impl<H> StoreInfo<H> {
    /// A record as `StoreInfo()` creates it: every `&default` from `defaults`.
    pub fn with_defaults(defaults: &StoreDefaults) -> Self {
        StoreInfo {
            name: None,
            store: None,
            master_node: defaults.default_master_node.clone(),
            master: false,
            backend: defaults.default_backend,
            options: BackendOptions::default(),
            clone_resync_interval: defaults.default_clone_resync_interval,
            clone_stale_interval: defaults.default_clone_stale_interval,
            clone_mutation_buffer_interval: defaults.default_clone_mutation_buffer_interval,
        }
    }

    /// The clone timing this record asks for.
    pub fn clone_config(&self) -> CloneConfig {
        CloneConfig {
            resync_interval: self.clone_resync_interval,
            stale_interval: self.clone_stale_interval,
            mutation_buffer_interval: self.clone_mutation_buffer_interval,
            ..CloneConfig::default()
        }
    }

    /// The SQLite file: the configured path, else `<name>.sqlite` in the working
    /// directory (what an empty path gives).
    pub fn sqlite_path(&self) -> Result<PathBuf> {
        self.options
            .sqlite_path_for(self.name.as_deref().unwrap_or_default())
    }
}

/// The part of the cluster layout `create_store` needs.
#[derive(Debug, Clone, Default)]
pub struct ClusterView<'a> {
    /// `Cluster::is_enabled()`.
    pub enabled: bool,
    /// This node's name.
    pub local_node: &'a str,
    /// Every node name of the layout.
    pub nodes: Vec<&'a str>,
    /// Names of the manager nodes.
    pub managers: Vec<&'a str>,
}

/// `Cluster::create_store(name, persistent)`, the decision part: which record, which
/// backend and path, master or clone. `stores` is the `Cluster::stores` table (entries
/// there override the defaults). The returned record has `store == None`; the caller
/// attaches the master or clone and fills it in.
pub fn resolve_store<H: Clone>(
    name: &str,
    persistent: bool,
    stores: &BTreeMap<String, StoreInfo<H>>,
    defaults: &StoreDefaults,
    cluster: &ClusterView<'_>,
) -> Result<StoreInfo<H>> {
    let mut info = match stores.get(name) {
        Some(i) => {
            let mut i = i.clone();
            i.store = None;
            i
        }
        None => StoreInfo::with_defaults(defaults),
    };
    info.name = Some(name.to_string());
    if !defaults.default_store_dir.is_empty() && info.options.sqlite_path.is_empty() {
        validate_store_name(name)?;
        info.options.sqlite_path = format!("{}/{}.sqlite", defaults.default_store_dir, name);
    }
    if persistent {
        match info.backend {
            BackendKind::Memory => info.backend = defaults.default_persistent_backend,
            BackendKind::Sqlite => {}
        }
    }
    if info.backend == BackendKind::Sqlite {
        validate_store_name(name)?;
    }
    if !cluster.enabled {
        info.master = true;
        return Ok(info);
    }
    if info.master_node.is_empty() {
        let mut managers = cluster.managers.clone();
        managers.sort_unstable();
        match managers.first() {
            Some(m) => info.master_node = (*m).to_string(),
            None => {
                return Err(Error::state(format!(
                    "create_store('{name}'): no master node: Cluster::default_master_node is empty and the layout has no manager"
                )))
            }
        }
    } else if !cluster.nodes.contains(&info.master_node.as_str()) {
        return Err(Error::not_found(format!(
            "create_store('{name}'): master node '{}' is not in the cluster layout",
            info.master_node
        )));
    }
    info.master = info.master_node == cluster.local_node;
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn view<'a>(local: &'a str) -> ClusterView<'a> {
        ClusterView {
            enabled: true,
            local_node: local,
            nodes: vec!["manager-b", "manager-a", "worker-1", "proxy-1"],
            managers: vec!["manager-b", "manager-a"],
        }
    }

    #[test]
    fn defaults_match_the_reference() {
        let d = StoreDefaults::default();
        let i: StoreInfo<()> = StoreInfo::with_defaults(&d);
        assert_eq!(i.backend, BackendKind::Memory);
        assert_eq!(i.master_node, "");
        assert!(!i.master);
        assert_eq!(i.options.sqlite_path, "");
        assert_eq!(i.clone_resync_interval, 10_000_000_000);
        assert_eq!(i.clone_stale_interval, 300_000_000_000);
        assert_eq!(i.clone_mutation_buffer_interval, 120_000_000_000);
        assert_eq!(d.default_persistent_backend, BackendKind::Sqlite);
        let c = i.clone_config();
        assert_eq!(
            (
                c.resync_interval,
                c.stale_interval,
                c.mutation_buffer_interval
            ),
            (10_000_000_000, 300_000_000_000, 120_000_000_000)
        );
    }

    #[test]
    fn master_node_falls_back_to_default_then_first_manager() {
        let stores: BTreeMap<String, StoreInfo<()>> = BTreeMap::new();
        let mut d = StoreDefaults::default();
        let i = resolve_store("s", false, &stores, &d, &view("manager-a")).unwrap();
        assert_eq!(i.master_node, "manager-a", "alphabetically first manager");
        assert!(i.master);
        let i = resolve_store("s", false, &stores, &d, &view("worker-1")).unwrap();
        assert!(!i.master);
        d.default_master_node = "proxy-1".into();
        let i = resolve_store("s", false, &stores, &d, &view("proxy-1")).unwrap();
        assert_eq!(i.master_node, "proxy-1");
        assert!(i.master);
        d.default_master_node = "nope".into();
        let e = resolve_store("s", false, &stores, &d, &view("proxy-1")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert!(e.message.contains("'nope'"));
        let no_mgr = ClusterView {
            enabled: true,
            local_node: "w",
            nodes: vec!["w"],
            managers: vec![],
        };
        let e = resolve_store("s", false, &stores, &StoreDefaults::default(), &no_mgr).unwrap_err();
        assert!(e.message.contains("no manager"), "{}", e.message);
    }

    #[test]
    fn stores_table_overrides_and_persistence_upgrades_memory() {
        let d = StoreDefaults {
            default_store_dir: "/data".into(),
            ..Default::default()
        };
        let mut stores: BTreeMap<String, StoreInfo<()>> = BTreeMap::new();
        let mut pre = StoreInfo::with_defaults(&d);
        pre.master_node = "worker-1".into();
        pre.clone_stale_interval = -1;
        pre.options.sqlite_path = "/custom/x.db".into();
        stores.insert("x".into(), pre);
        let i = resolve_store("x", true, &stores, &d, &view("worker-1")).unwrap();
        assert_eq!(i.name.as_deref(), Some("x"));
        assert_eq!(i.master_node, "worker-1");
        assert!(i.master);
        assert_eq!(i.clone_stale_interval, -1);
        assert_eq!(
            i.backend,
            BackendKind::Sqlite,
            "persistent upgrades MEMORY to default_persistent_backend"
        );
        assert_eq!(i.options.sqlite_path, "/custom/x.db", "explicit path kept");
        let i = resolve_store("y", false, &stores, &d, &view("worker-1")).unwrap();
        assert_eq!(i.options.sqlite_path, "/data/y.sqlite");
        assert_eq!(i.backend, BackendKind::Memory);
        assert_eq!(i.sqlite_path().unwrap(), PathBuf::from("/data/y.sqlite"));
        let plain: StoreInfo<()> = resolve_store(
            "z",
            true,
            &BTreeMap::new(),
            &StoreDefaults::default(),
            &view("manager-a"),
        )
        .unwrap();
        assert_eq!(plain.sqlite_path().unwrap(), PathBuf::from("z.sqlite"));
    }

    #[test]
    fn outside_a_cluster_every_store_is_a_master() {
        let i: StoreInfo<()> = resolve_store(
            "s",
            false,
            &BTreeMap::new(),
            &StoreDefaults::default(),
            &ClusterView::default(),
        )
        .unwrap();
        assert!(i.master);
    }

    #[test]
    fn path_characters_in_names_are_refused_for_files() {
        let d = StoreDefaults {
            default_store_dir: "/data".into(),
            ..Default::default()
        };
        let e = resolve_store::<()>(
            "../etc",
            false,
            &BTreeMap::new(),
            &d,
            &ClusterView::default(),
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Store);
        let e = resolve_store::<()>(
            "a/b",
            true,
            &BTreeMap::new(),
            &StoreDefaults::default(),
            &ClusterView::default(),
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Store);
        // A memory store without a store dir has no file: any name works.
        resolve_store::<()>(
            "a/b",
            false,
            &BTreeMap::new(),
            &StoreDefaults::default(),
            &ClusterView::default(),
        )
        .unwrap();
    }
}
