//! Switchyard's API: the `AIModel`, `AIRoute` and `AIPolicy` resources and the snapshot compiler.
