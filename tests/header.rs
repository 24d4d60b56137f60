//! The checked-in `include/zcluster.h` must be exactly what cbindgen generates from the
//! source. `ZC_UPDATE_HEADER=1 cargo test --test header` rewrites it.

use std::path::PathBuf;

#[test]
fn header_is_current() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(&root)
        .with_config(config)
        .generate()
        .expect("cbindgen failed")
        .write(&mut generated);
    let path = root.join("include/zcluster.h");
    if std::env::var_os("ZC_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let current = std::fs::read(&path).unwrap_or_default();
    assert!(
        current == generated,
        "include/zcluster.h is stale: run `ZC_UPDATE_HEADER=1 cargo test --test header` and commit it"
    );
}

#[test]
fn header_constants_match_the_library() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let header = std::fs::read_to_string(root.join("include/zcluster.h")).unwrap();
    let abi = format!(
        "#define ZC_ABI_VERSION {}\n",
        zcluster::ffi::result::ZC_ABI_VERSION
    );
    assert!(header.contains(&abi), "header lacks `{abi}`");
    let batch = format!(
        "#define ZC_BATCH_HEADER_LEN {}\n",
        zcluster::ffi::batch::ZC_BATCH_HEADER_LEN
    );
    assert!(header.contains(&batch), "header lacks `{batch}`");
    let run = format!(
        "#define ZC_BATCH_RUN_HEADER_LEN {}\n",
        zcluster::ffi::batch::ZC_BATCH_RUN_HEADER_LEN
    );
    assert!(header.contains(&run), "header lacks `{run}`");
    let mut v = env!("CARGO_PKG_VERSION").split('.');
    for part in ["MAJOR", "MINOR", "PATCH"] {
        let want = format!("#define ZC_VERSION_{part} {}\n", v.next().unwrap());
        assert!(
            header.contains(&want),
            "header lacks `{want}` (cbindgen.toml after_includes)"
        );
    }
}
