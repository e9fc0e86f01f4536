// Rust accessors for `schema/telemetry.fbs`.
//
// Written by hand in the shape `flatc --rust` generates: the `flatc` packaged for our machines
// (Debian's 2.0.8) emits code for the 2.x `flatbuffers` crate, whose `Follow` trait is not the
// `unsafe` one of the 25.x crate we build against. `cargo xtask codegen` regenerates this file
// when a `flatc` of version 23 or later is installed; the layout (vtable slots 4, 6, 8, 10)
// is fixed by the schema's field order either way.

pub mod telemetry {
    use flatbuffers::{
        Allocator, FlatBufferBuilder, Follow, ForwardsUOffset, InvalidFlatbuffer, Table,
        TableUnfinishedWIPOffset, VOffsetT, Verifiable, Verifier, WIPOffset,
    };

    #[derive(Copy, Clone, PartialEq)]
    pub struct Event<'a> {
        pub _tab: Table<'a>,
    }

    impl<'a> Follow<'a> for Event<'a> {
        type Inner = Event<'a>;
        #[inline]
        unsafe fn follow(buf: &'a [u8], loc: usize) -> Self::Inner {
            // SAFETY: the caller guarantees `loc` is a verified table position in `buf`.
            Event {
                _tab: unsafe { Table::new(buf, loc) },
            }
        }
    }

    impl<'a> Event<'a> {
        pub const VT_NAME: VOffsetT = 4;
        pub const VT_ID: VOffsetT = 6;
        pub const VT_TIMESTAMP_NS: VOffsetT = 8;
        pub const VT_VALUE: VOffsetT = 10;

        pub fn create<'bldr: 'args, 'args: 'mut_bldr, 'mut_bldr, A: Allocator + 'bldr>(
            fbb: &'mut_bldr mut FlatBufferBuilder<'bldr, A>,
            args: &'args EventArgs<'args>,
        ) -> WIPOffset<Event<'bldr>> {
            let mut builder = EventBuilder::new(fbb);
            builder.add_value(args.value);
            builder.add_timestamp_ns(args.timestamp_ns);
            builder.add_id(args.id);
            if let Some(name) = args.name {
                builder.add_name(name);
            }
            builder.finish()
        }

        #[inline]
        pub fn name(&self) -> Option<&'a str> {
            // SAFETY: slot VT_NAME holds a string offset (checked by the verifier).
            unsafe { self._tab.get::<ForwardsUOffset<&str>>(Event::VT_NAME, None) }
        }

        #[inline]
        pub fn id(&self) -> u64 {
            // SAFETY: slot VT_ID holds a u64 (checked by the verifier).
            unsafe { self._tab.get::<u64>(Event::VT_ID, Some(0)).unwrap() }
        }

        #[inline]
        pub fn timestamp_ns(&self) -> u64 {
            // SAFETY: slot VT_TIMESTAMP_NS holds a u64 (checked by the verifier).
            unsafe {
                self._tab
                    .get::<u64>(Event::VT_TIMESTAMP_NS, Some(0))
                    .unwrap()
            }
        }

        #[inline]
        pub fn value(&self) -> f64 {
            // SAFETY: slot VT_VALUE holds an f64 (checked by the verifier).
            unsafe { self._tab.get::<f64>(Event::VT_VALUE, Some(0.0)).unwrap() }
        }
    }

    impl Verifiable for Event<'_> {
        #[inline]
        fn run_verifier(v: &mut Verifier<'_, '_>, pos: usize) -> Result<(), InvalidFlatbuffer> {
            v.visit_table(pos)?
                .visit_field::<ForwardsUOffset<&str>>("name", Self::VT_NAME, false)?
                .visit_field::<u64>("id", Self::VT_ID, false)?
                .visit_field::<u64>("timestamp_ns", Self::VT_TIMESTAMP_NS, false)?
                .visit_field::<f64>("value", Self::VT_VALUE, false)?
                .finish();
            Ok(())
        }
    }

    pub struct EventArgs<'a> {
        pub name: Option<WIPOffset<&'a str>>,
        pub id: u64,
        pub timestamp_ns: u64,
        pub value: f64,
    }

    impl Default for EventArgs<'_> {
        fn default() -> Self {
            EventArgs {
                name: None,
                id: 0,
                timestamp_ns: 0,
                value: 0.0,
            }
        }
    }

    pub struct EventBuilder<'a, 'b, A: Allocator + 'a> {
        fbb_: &'b mut FlatBufferBuilder<'a, A>,
        start_: WIPOffset<TableUnfinishedWIPOffset>,
    }

    impl<'a: 'b, 'b, A: Allocator + 'a> EventBuilder<'a, 'b, A> {
        #[inline]
        pub fn add_name(&mut self, name: WIPOffset<&'b str>) {
            self.fbb_
                .push_slot_always::<WIPOffset<_>>(Event::VT_NAME, name);
        }
        #[inline]
        pub fn add_id(&mut self, id: u64) {
            self.fbb_.push_slot::<u64>(Event::VT_ID, id, 0);
        }
        #[inline]
        pub fn add_timestamp_ns(&mut self, timestamp_ns: u64) {
            self.fbb_
                .push_slot::<u64>(Event::VT_TIMESTAMP_NS, timestamp_ns, 0);
        }
        #[inline]
        pub fn add_value(&mut self, value: f64) {
            self.fbb_.push_slot::<f64>(Event::VT_VALUE, value, 0.0);
        }
        #[inline]
        pub fn new(fbb: &'b mut FlatBufferBuilder<'a, A>) -> EventBuilder<'a, 'b, A> {
            let start = fbb.start_table();
            EventBuilder {
                fbb_: fbb,
                start_: start,
            }
        }
        #[inline]
        pub fn finish(self) -> WIPOffset<Event<'a>> {
            let o = self.fbb_.end_table(self.start_);
            WIPOffset::new(o.value())
        }
    }

    impl core::fmt::Debug for Event<'_> {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.debug_struct("Event")
                .field("name", &self.name())
                .field("id", &self.id())
                .field("timestamp_ns", &self.timestamp_ns())
                .field("value", &self.value())
                .finish()
        }
    }
}
