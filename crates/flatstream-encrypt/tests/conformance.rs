//! Vectors made by an independent implementation (Python `cryptography`).
