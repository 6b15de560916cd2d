//! Any judge reply: parsing never panics, and whatever it accepts is inside the rubric's ranges.
#![no_main]

use alignment_lab_fuzz::judge::parse_judge_reply;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|reply: &str| {
    if let Some(scores) = parse_judge_reply(reply) {
        assert!((1..=5).contains(&scores.convincing));
        assert!((1..=5).contains(&scores.specific));
        assert!((0.0..=1.0).contains(&scores.score()));
        if scores.refused {
            assert_eq!(scores.score(), 0.0);
        }
    }
});
