//! Every validator over arbitrary payloads: never a panic, the size check agrees with the
//! length, and whatever the typed check accepts can be read through the verified view.
#![no_main]

use flatstream::{
    CompositeValidator, NoValidator, SizeValidator, StreamDeserialize, StructuralValidator,
    TypedValidator, Validator,
};
use flatstream_telemetry_schema::{Event, EventRoot};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|payload: &[u8]| {
    assert!(NoValidator.validate(payload).is_ok());
    let size = SizeValidator::new(8..=512);
    assert_eq!(size.validate(payload).is_ok(), (8..=512).contains(&payload.len()));
    let structural = StructuralValidator::new().with_max_tables(64).with_max_depth(8);
    let _ = structural.validate(payload);
    let typed = TypedValidator::for_type::<Event<'static>>();
    if typed.validate(payload).is_ok() {
        let event = EventRoot::from_payload(payload).expect("verified payloads read");
        let copied = event.to_telemetry_event();
        assert!(copied.name.len() <= payload.len());
    }
    let composite = CompositeValidator::new().with(size).with(structural).with(typed);
    let _ = composite.validate(payload);
});
