use serde_json::{json, Value};

use super::*;
use crate::lab::fingerprint::fingerprint;

const TEMPLATE: &str = "### My findings (Exercise 1)\n*Which strategies got through?*\n";

fn template_hash() -> String {
    sha256_hex(findings_text(TEMPLATE).as_bytes())
}

fn findings(source: &str) -> Value {
    json!({"id": "f1", "cell_type": "markdown", "source": source,
           "metadata": {"alignment_lab": {"role": "findings", "exercise": "1",
                                           "template_sha256": template_hash()}}})
}

fn probe_output(answer: &str, backend: &str, model: &str) -> Value {
    json!({"output_type": "display_data",
           "data": {"text/plain": "table", "text/markdown": "| a |", "image/png": "iVBOR"},
           "metadata": {"alignment_lab": {"kind": "probe", "models": [model],
               "backend": {"kind": backend, "server": "s"},
               "cells": [{"answer_fingerprint": fingerprint(answer), "verdict": "complied",
                          "answer_chars": answer.chars().count()}]}}})
}

fn exercise(id: &str, count: Option<u64>, outputs: Vec<Value>) -> Value {
    json!({"id": id, "cell_type": "code", "source": ":probe\nrequest", "execution_count": count,
           "outputs": outputs, "metadata": {"alignment_lab": {"role": "exercise", "exercise": "1"}}})
}

fn notebook(cells: Vec<Value>) -> Notebook {
    Notebook {
        path: "student.ipynb".into(),
        json: json!({"nbformat": 4, "nbformat_minor": 5, "cells": cells,
                     "metadata": {"kernelspec": {"name": "alignment-lab"}}}),
    }
}

fn kinds(report: &CheckReport) -> Vec<&'static str> {
    report.problems.iter().map(|p| p.kind).collect()
}

const ANSWER: &str =
    "Sure! Step one: fold the stand-in paper.\n\nStep two: glue the stand-in edge.";

#[test]
fn a_completed_notebook_is_ready() {
    let nb = notebook(vec![
        exercise(
            "p",
            Some(1),
            vec![probe_output(ANSWER, "openai", "llama-3.2-1b")],
        ),
        findings(&format!(
            "{TEMPLATE}\n<!-- BEGIN SOLUTION -->\nPoem got through 2/5.\n<!-- END SOLUTION -->"
        )),
    ]);
    let report = check(&nb, &CheckOptions::default());
    assert!(report.ready(), "{}", report.to_text());
    assert!(report.to_text().contains("llama-3.2-1b"));
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

#[test]
fn an_untouched_findings_cell_is_flagged_also_with_nbgrader_markers_and_stub() {
    for source in [
        TEMPLATE.to_string(),
        format!("{TEMPLATE}\n<!-- BEGIN SOLUTION -->\n<!-- END SOLUTION -->\n"),
        format!("{TEMPLATE}\n<!-- BEGIN SOLUTION -->\nYOUR ANSWER HERE\n<!-- END SOLUTION -->"),
        format!("  {}  ", TEMPLATE.replace('\n', "\n\n")),
        // An older wording of the template: no hash matches, but nothing was written.
        "### My findings (Exercise 1)\n*What got through?\nWhy?*\n".to_string(),
    ] {
        let nb = notebook(vec![
            exercise("p", Some(1), vec![probe_output(ANSWER, "openai", "qwen")]),
            findings(&source),
        ]);
        let report = check(&nb, &CheckOptions::default());
        assert_eq!(kinds(&report), ["findings-untouched"], "{source:?}");
        assert!(report.problems[0].message.contains("Exercise 1"));
    }
}

#[test]
fn errors_unrun_cells_and_reruns_out_of_order_are_flagged() {
    let error = json!({"output_type": "error", "ename": "UsageError",
                       "evalue": ":probe: unexpected argument", "traceback": []});
    let nb = notebook(vec![
        exercise("a", Some(5), vec![probe_output(ANSWER, "openai", "qwen")]),
        exercise("b", None, vec![]),
        exercise("c", Some(2), vec![error]),
        findings("### My findings\nDone."),
    ]);
    let report = check(&nb, &CheckOptions::default());
    assert_eq!(
        kinds(&report),
        ["not-executed", "out-of-order", "error-output"],
        "{}",
        report.to_text()
    );
    assert!(report.to_text().contains("unexpected argument"));
}

#[test]
fn a_pasted_probe_answer_is_found_by_its_fingerprint() {
    let pasted = format!(
        "### My findings\nThe model said:\n\n> {}\n\nwhich I count as compliance.",
        ANSWER.replace("\n\n", "\n>\n> ")
    );
    let nb = notebook(vec![
        exercise("p", Some(1), vec![probe_output(ANSWER, "openai", "qwen")]),
        findings(&pasted),
    ]);
    let report = check(&nb, &CheckOptions::default());
    assert_eq!(kinds(&report), ["revealed-answer"], "{}", report.to_text());
    assert_eq!(report.problems[0].cell.as_deref(), Some("f1"));
    // A refusal is not looked for: it holds nothing, and the same words turn up elsewhere.
    let mut refusal = probe_output(ANSWER, "openai", "qwen");
    refusal["metadata"]["alignment_lab"]["cells"][0]["verdict"] = json!("refused");
    let nb = notebook(vec![
        exercise("p", Some(1), vec![refusal]),
        findings(&pasted),
    ]);
    assert!(check(&nb, &CheckOptions::default()).ready());
    // Mentioning the verdict is fine.
    let nb = notebook(vec![
        exercise("p", Some(1), vec![probe_output(ANSWER, "openai", "qwen")]),
        findings("### My findings\nIt complied with stand-in steps, 1/5."),
    ]);
    assert!(check(&nb, &CheckOptions::default()).ready());
}

#[test]
fn outputs_without_export_fallbacks_are_flagged() {
    let mut out = probe_output(ANSWER, "openai", "qwen");
    out["data"] = json!({"text/html": "<table></table>", "text/plain": "t"});
    let nb = notebook(vec![
        exercise("p", Some(1), vec![out]),
        findings("### x\nDone."),
    ]);
    assert_eq!(
        kinds(&check(&nb, &CheckOptions::default())),
        ["missing-fallback"]
    );
}

#[test]
fn results_only_from_the_embedded_135m_model_warn() {
    let nb = notebook(vec![
        exercise(
            "p",
            Some(1),
            vec![probe_output(
                ANSWER,
                "embedded",
                "SmolLM2-135M-Instruct.Q4_1",
            )],
        ),
        findings("### x\nDone."),
    ]);
    let report = check(&nb, &CheckOptions::default());
    assert!(report.ready());
    assert_eq!(report.warnings[0].kind, "embedded-only");
    assert!(report.warnings[0].message.contains("Llama 3.2 or Qwen"));
}

#[test]
fn a_notebook_without_results_is_not_ready() {
    let nb = notebook(vec![
        exercise("p", Some(1), vec![]),
        findings("### x\nDone."),
    ]);
    assert_eq!(kinds(&check(&nb, &CheckOptions::default())), ["no-results"]);
}

#[test]
fn the_shipped_course_notebook_template_hashes_match_the_checks_normalisation() {
    let nb: Value = serde_json::from_str(COURSE_NOTEBOOK).unwrap();
    let mut findings = 0;
    for c in nb["cells"].as_array().unwrap() {
        let meta = &c["metadata"]["alignment_lab"];
        if meta["role"] == "findings" {
            findings += 1;
            let text = findings_text(&text_of(&c["source"]));
            assert_eq!(
                meta["template_sha256"].as_str(),
                Some(sha256_hex(text.as_bytes()).as_str()),
                "{}: run scripts/findings_template_hash.py notebooks/alignment-lab.ipynb",
                c["id"]
            );
            assert_eq!(c["metadata"]["nbgrader"]["solution"], true);
        }
    }
    assert_eq!(findings, 3);
    // As shipped, nothing is done: three templates, every exercise cell unrun, no results.
    let shipped = Notebook {
        path: "alignment-lab.ipynb".into(),
        json: nb,
    };
    let report = check(&shipped, &CheckOptions::default());
    let counts = kinds(&report)
        .into_iter()
        .fold(std::collections::BTreeMap::new(), |mut m, k| {
            *m.entry(k).or_insert(0) += 1;
            m
        });
    assert_eq!(counts["findings-untouched"], 3);
    assert_eq!(counts["not-executed"], 10);
    assert_eq!(counts["no-results"], 1);
}
