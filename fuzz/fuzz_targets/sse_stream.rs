//! Any bytes from a server, cut into network reads at arbitrary points: the SSE decoder and the
//! chunk interpreter never panic, and the text they assemble does not depend on where the reads
//! were cut.
#![no_main]

use alignment_lab_fuzz::sse::{interpret, StreamEvent};
use bytes::Bytes;
use futures::StreamExt;
use libfuzzer_sys::fuzz_target;

fn assemble(reads: Vec<Bytes>) -> (Vec<String>, usize) {
    let stream = futures::stream::iter(reads.into_iter().map(Ok::<_, std::io::Error>));
    let mut events = eventsource_stream::Eventsource::eventsource(stream);
    let mut text = Vec::new();
    let mut errors = 0;
    futures::executor::block_on(async {
        while let Some(event) = events.next().await {
            match event {
                Ok(e) => match interpret(&e.data) {
                    Ok(Some(StreamEvent::Chunk(c))) => text.extend(c.content),
                    Ok(Some(StreamEvent::Done)) => break,
                    Ok(_) => {}
                    Err(_) => errors += 1,
                },
                Err(_) => {
                    errors += 1;
                    break;
                }
            }
        }
    });
    (text, errors)
}

fuzz_target!(|input: (u8, &[u8])| {
    let (cut, data) = input;
    let step = usize::from(cut.max(1));
    let pieces: Vec<Bytes> = data.chunks(step).map(Bytes::copy_from_slice).collect();
    let whole = assemble(vec![Bytes::copy_from_slice(data)]);
    let cut = assemble(pieces);
    // Valid UTF-8 streams must not change with the read boundaries.
    if std::str::from_utf8(data).is_ok() {
        assert_eq!(whole, cut);
    }
});
