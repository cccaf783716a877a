//! loom models of the latch and of thread slots (written next).
