//! Small recursive tables for depth and table-count limits, written in the shape `flatc`
//! generates their verifiers.

use flatbuffers::{
    FlatBufferBuilder, ForwardsUOffset, InvalidFlatbuffer, Vector, Verifiable, Verifier, WIPOffset,
};

/// `table Node { child: Node; }`
pub(crate) struct Node;

impl Verifiable for Node {
    fn run_verifier(v: &mut Verifier<'_, '_>, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<ForwardsUOffset<Node>>("child", 4, false)?
            .finish();
        Ok(())
    }
}

/// `table Many { items: [Node]; }`
pub(crate) struct Many;

impl Verifiable for Many {
    fn run_verifier(v: &mut Verifier<'_, '_>, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<ForwardsUOffset<Vector<'_, ForwardsUOffset<Node>>>>("items", 4, false)?
            .finish();
        Ok(())
    }
}

/// A chain of `depth` nodes, each the child of the next.
pub(crate) fn nested_nodes(depth: usize) -> Vec<u8> {
    let mut builder = FlatBufferBuilder::new();
    let mut child: Option<WIPOffset<flatbuffers::TableFinishedWIPOffset>> = None;
    for _ in 0..depth {
        let table = builder.start_table();
        if let Some(child) = child {
            builder.push_slot_always(4, child);
        }
        child = Some(builder.end_table(table));
    }
    builder.finish_minimal(child.expect("depth of at least one"));
    builder.finished_data().to_vec()
}

/// A `Many` whose vector holds `count` offsets, all to one shared leaf node.
pub(crate) fn shared_leaves(count: usize) -> Vec<u8> {
    let mut builder = FlatBufferBuilder::new();
    let leaf = builder.start_table();
    let leaf = builder.end_table(leaf);
    let items = builder.create_vector(&vec![leaf; count]);
    let root = builder.start_table();
    builder.push_slot_always(4, items);
    let root = builder.end_table(root);
    builder.finish_minimal(root);
    builder.finished_data().to_vec()
}
