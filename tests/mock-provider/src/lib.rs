//! A mock LLM provider speaking the real wire formats of the providers Switchyard supports.
