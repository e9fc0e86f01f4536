//! Integration tests of flatstream-io, in one binary to keep link time down.

mod adapters;
mod allocation;
mod attacks;
mod common;
mod conformance;
mod faults;
mod frame_buffer;
mod frame_buffer_attacks;
mod in_memory_attacks;
mod in_place;
mod mid_frame_attacks;
mod properties;
mod reader_modes;
mod readers_agree;
mod reading;
mod recovery;
mod round_trip;
mod vec_sink_attacks;
mod writing;
