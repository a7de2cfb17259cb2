//! Runs deploy/argocd's health checks the way Argo CD does: Lua 5.1, the object as the global
//! `obj`, a table with `status` and `message` returned.

use mlua::serde::SerializeOptions;
use mlua::{Lua, LuaSerdeExt, Table};

/// (status, message) of `script` (a file under deploy/argocd/) for the object `obj`.
pub fn health(script: &str, obj: &serde_json::Value) -> (String, String) {
    let path = format!("{}/deploy/argocd/{script}", env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let lua = Lua::new();
    // Absent fields are nil to Lua, as in Argo CD (not a null sentinel).
    let options = SerializeOptions::new()
        .serialize_none_to_null(false)
        .serialize_unit_to_null(false);
    let value = lua.to_value_with(obj, options).expect("object to Lua");
    lua.globals().set("obj", value).expect("set obj");
    let result: Table = lua
        .load(&source)
        .set_name(script)
        .eval()
        .unwrap_or_else(|e| panic!("{script} failed: {e}"));
    (
        result.get("status").expect("status"),
        result.get("message").expect("message"),
    )
}
