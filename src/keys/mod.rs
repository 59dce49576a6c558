//! Client keys as code: generating a new key and adding it to the manifest (`rotate`), and the
//! overview of every key's expiry (`list`).

pub mod list;
pub mod manifest_edit;
pub mod rotate;
