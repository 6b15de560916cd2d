//! From a conversation to the tokens llama.cpp evaluates: the GGUF's own chat template, then the
//! BOS token where the model's tokenizer asks for one.

use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::token::LlamaToken;

use crate::llm::{LlmError, Message, Role};

/// The template a model's prompts are rendered with: `chosen` (a built-in name or template
/// text) when given, else the GGUF's own, else none (ChatML follows).
pub(super) fn template_for(
    model: &LlamaModel,
    chosen: Option<&str>,
) -> Result<Option<LlamaChatTemplate>, LlmError> {
    match chosen {
        Some(name) => LlamaChatTemplate::new(name)
            .map(Some)
            .map_err(|e| LlmError::Embedded(format!("the chat template holds a NUL byte ({e})"))),
        None => Ok(model.chat_template(None).ok()),
    }
}

/// Render the conversation with the GGUF's chat template (llama.cpp recognises the common
/// families: ChatML, Llama 3, Qwen, Gemma, Phi, Mistral, …). A GGUF without a template gets
/// ChatML, as llama.cpp's server does; a template that is there but cannot be applied is an
/// error naming the model — a silent ChatML fallback would give a Llama or Gemma model a
/// conversation format it was never trained on, and wrong answers that look like its own.
pub(super) fn render_prompt(
    model: &LlamaModel,
    model_id: &str,
    template: Option<&LlamaChatTemplate>,
    messages: &[Message],
) -> Result<String, LlmError> {
    let role_name = |r: Role| match r {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
    };
    let Some(template) = template else {
        let mut text = String::new();
        for m in messages {
            text.push_str(&format!(
                "<|im_start|>{}\n{}<|im_end|>\n",
                role_name(m.role),
                m.content
            ));
        }
        text.push_str("<|im_start|>assistant\n");
        return Ok(text);
    };
    let chat = messages
        .iter()
        .map(|m| LlamaChatMessage::new(role_name(m.role).to_string(), m.content.clone()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| LlmError::Embedded(format!("a message holds a NUL byte ({e})")))?;
    model
        .apply_chat_template(template, &chat, true)
        .map_err(|e| {
            LlmError::Embedded(format!(
                "the chat template of `{model_id}` could not be applied by llama.cpp ({e}); \
                 the model's conversation format is unknown here, so it is not guessed. Serve \
                 the model with LM Studio, Ollama or llama-server (`:backend openai`), or use a \
                 GGUF whose template llama.cpp recognises"
            ))
        })
}

/// Tokenize a rendered prompt (special tokens in the text are parsed as such), with the BOS
/// token first when the GGUF's `tokenizer.ggml.add_bos_token` asks for it and the template did
/// not already write one. llama.cpp's built-in Llama 3 and Gemma templates leave BOS out and
/// expect the caller to add it, as llama-server and LM Studio do; ChatML models say no BOS.
pub(super) fn tokenize_prompt(model: &LlamaModel, text: &str) -> Vec<LlamaToken> {
    let vocab = model.vocab();
    let tokens = vocab.tokenize(text.as_bytes(), false, true);
    with_bos(tokens, vocab.should_add_bos().then(|| vocab.bos()))
}

/// `tokens` with `bos` in front unless it is already there (no double BOS).
fn with_bos<T: PartialEq + Copy>(mut tokens: Vec<T>, bos: Option<T>) -> Vec<T> {
    if let Some(bos) = bos {
        if tokens.first() != Some(&bos) {
            tokens.insert(0, bos);
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::with_bos;

    #[test]
    fn bos_is_added_once_and_only_when_asked_for() {
        assert_eq!(with_bos(vec![5, 6], Some(2)), vec![2, 5, 6]);
        assert_eq!(with_bos(vec![2, 5, 6], Some(2)), vec![2, 5, 6]);
        assert_eq!(with_bos(vec![5, 6], None), vec![5, 6]);
        assert_eq!(with_bos(Vec::new(), Some(2)), vec![2]);
    }
}
