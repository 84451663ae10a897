//! The in-memory store. (stub)
pub struct MemoryStore;
