//! The mT5 tokenizer as Uni-Sign uses it: transformers' slow `T5Tokenizer` (`legacy=False`) over
//! `spiece.model`, reproduced id for id, with its `decode` (special-token spacing and
//! `clean_up_tokenization_spaces`). A `tokenizer.json` (the fast conversion) loads too.

use std::path::{Path, PathBuf};

use super::sentencepiece::{SPACE_SYMBOL, SentencePieceError, SentencePieceModel};

/// The special tokens `T5Tokenizer` registers (pad, eos, unk), in id-lookup order.
const SPECIAL_TOKENS: [&str; 3] = ["<pad>", "</s>", "<unk>"];

/// Errors of loading or using the tokenizer.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// Reading or using `spiece.model` failed.
    #[error(transparent)]
    SentencePiece(#[from] SentencePieceError),
    /// `tokenizer.json` could not be loaded.
    #[error("cannot load tokenizer {path}: {message}")]
    Json {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A special token the T5 tokenizer needs is missing from the vocabulary.
    #[error("{path}: the vocabulary has no {token} token")]
    MissingSpecial {
        /// The file.
        path: PathBuf,
        /// The token.
        token: &'static str,
    },
    /// Encoding with the `tokenizers` crate failed.
    #[error("tokenizer error: {0}")]
    Encode(String),
    /// An id outside the vocabulary was given to decode.
    #[error("token id {id} is outside the vocabulary of {vocab_size}")]
    IdOutOfRange {
        /// The id.
        id: u32,
        /// The vocabulary size.
        vocab_size: usize,
    },
}

enum Backend {
    /// Exact slow-tokenizer behaviour over the SentencePiece model.
    SentencePiece(Box<SentencePieceModel>),
    /// A `tokenizer.json` (transformers' fast conversion): its own encode rules.
    Fast(Box<tokenizers::Tokenizer>),
}

/// The mT5 tokenizer: encode a prompt, decode generated ids.
pub struct MT5Tokenizer {
    backend: Backend,
    /// Ids of `<pad>`, `</s>`, `<unk>`.
    special_ids: [u32; 3],
    unk_token_length: usize,
}

impl std::fmt::Debug for MT5Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.backend {
            Backend::SentencePiece(_) => "spiece.model",
            Backend::Fast(_) => "tokenizer.json",
        };
        f.debug_struct("MT5Tokenizer")
            .field("backend", &kind)
            .field("special_ids", &self.special_ids)
            .finish()
    }
}

impl MT5Tokenizer {
    /// Loads `spiece.model`; encodes exactly as the slow `T5Tokenizer(legacy=False)`.
    pub fn from_spiece(path: &Path) -> Result<Self, TokenizerError> {
        let mut model = SentencePieceModel::from_file(path)?;
        // As transformers' get_spm_processor does for legacy=False.
        model.set_add_dummy_prefix(false);
        let mut special_ids = [0; 3];
        for (slot, token) in special_ids.iter_mut().zip(SPECIAL_TOKENS) {
            *slot = model
                .piece_to_id(token)
                .ok_or_else(|| TokenizerError::MissingSpecial {
                    path: path.to_path_buf(),
                    token,
                })?;
        }
        let unk_token_length = model.encode("<unk>")?.len();
        Ok(Self {
            backend: Backend::SentencePiece(Box::new(model)),
            special_ids,
            unk_token_length,
        })
    }

    /// Loads a `tokenizer.json`; encodes as transformers' `T5TokenizerFast` does.
    pub fn from_tokenizer_json(path: &Path) -> Result<Self, TokenizerError> {
        let tokenizer =
            tokenizers::Tokenizer::from_file(path).map_err(|e| TokenizerError::Json {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        let mut special_ids = [0; 3];
        for (slot, token) in special_ids.iter_mut().zip(SPECIAL_TOKENS) {
            *slot = tokenizer
                .token_to_id(token)
                .ok_or_else(|| TokenizerError::MissingSpecial {
                    path: path.to_path_buf(),
                    token,
                })?;
        }
        Ok(Self {
            backend: Backend::Fast(Box::new(tokenizer)),
            special_ids,
            unk_token_length: 0,
        })
    }

    /// The `</s>` id.
    pub fn eos_id(&self) -> u32 {
        self.special_ids[1]
    }

    /// The `<pad>` id (also mT5's decoder start).
    pub fn pad_id(&self) -> u32 {
        self.special_ids[0]
    }

    /// Number of ids the tokenizer can produce.
    pub fn vocab_size(&self) -> usize {
        match &self.backend {
            Backend::SentencePiece(m) => m.pieces().len(),
            Backend::Fast(t) => t.get_vocab_size(true),
        }
    }

    /// The piece of an id (`convert_ids_to_tokens`).
    pub fn id_to_piece(&self, id: u32) -> Result<String, TokenizerError> {
        let piece = match &self.backend {
            Backend::SentencePiece(m) => m.pieces().get(id as usize).map(|p| p.text.clone()),
            Backend::Fast(t) => t.id_to_token(id),
        };
        piece.ok_or(TokenizerError::IdOutOfRange {
            id,
            vocab_size: self.vocab_size(),
        })
    }

    /// `tokenizer(text).input_ids`: the ids with `</s>` appended (not doubled when the text
    /// already ends with a literal `</s>`, as the slow tokenizer does).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizerError> {
        let mut ids: Vec<u32> = match &self.backend {
            Backend::SentencePiece(model) => self
                .tokenize(model, text)?
                .into_iter()
                .map(|(id, _)| id)
                .collect(),
            Backend::Fast(tokenizer) => {
                return tokenizer
                    .encode(text, true)
                    .map(|e| e.get_ids().to_vec())
                    .map_err(|e| TokenizerError::Encode(e.to_string()));
            }
        };
        if ids.last() != Some(&self.eos_id()) {
            ids.push(self.eos_id());
        }
        Ok(ids)
    }

    /// `T5Tokenizer.tokenize` with `legacy=False`: (id, piece) pairs, no `</s>` appended.
    fn tokenize(
        &self,
        model: &SentencePieceModel,
        text: &str,
    ) -> Result<Vec<(u32, String)>, TokenizerError> {
        if text.is_empty() {
            return Ok(Vec::new());
        }
        // legacy=False: literal ▁ become spaces and one ▁ stands for the prefix space.
        let text = format!("{SPACE_SYMBOL}{}", text.replace(SPACE_SYMBOL, " "));
        let mut tokens = Vec::new();
        for segment in split_on_specials(&text) {
            match segment {
                Segment::Special(index) => {
                    tokens.push((self.special_ids[index], SPECIAL_TOKENS[index].to_string()))
                }
                Segment::Text("") => {}
                Segment::Text(part) => tokens.extend(self.sp_tokenize(model, part)?),
            }
        }
        if tokens.len() > 1
            && tokens[0].1 == SPACE_SYMBOL.to_string()
            && self.special_ids.contains(&tokens[1].0)
            && SPECIAL_TOKENS.contains(&tokens[1].1.as_str())
        {
            tokens.remove(0);
        }
        Ok(tokens)
    }

    /// `T5Tokenizer._tokenize`: text that starts with a space is encoded behind `<unk>` (whose
    /// pieces are then dropped) so that SentencePiece adds no dummy prefix of its own.
    fn sp_tokenize(
        &self,
        model: &SentencePieceModel,
        part: &str,
    ) -> Result<Vec<(u32, String)>, TokenizerError> {
        let to_pairs = |pieces: Vec<super::sentencepiece::EncodedPiece>| {
            pieces
                .into_iter()
                .map(|p| (p.id, p.text))
                .collect::<Vec<_>>()
        };
        if !part.starts_with([SPACE_SYMBOL, ' ']) {
            return Ok(to_pairs(model.encode(part)?));
        }
        let pieces = to_pairs(model.encode(&format!("<unk>{part}"))?);
        if pieces.len() >= self.unk_token_length {
            Ok(pieces[self.unk_token_length..].to_vec())
        } else {
            Ok(pieces)
        }
    }

    /// `decode(ids, skip_special_tokens, clean_up_tokenization_spaces)` as transformers 4.40's
    /// slow tokenizer does it; Uni-Sign's evaluation uses `(true, true)`.
    pub fn decode(
        &self,
        ids: &[u32],
        skip_special_tokens: bool,
        clean_up_tokenization_spaces: bool,
    ) -> Result<String, TokenizerError> {
        let mut tokens = Vec::with_capacity(ids.len());
        for &id in ids {
            if skip_special_tokens && self.special_ids.contains(&id) {
                continue;
            }
            tokens.push(self.id_to_piece(id)?);
        }
        let text = if tokens.is_empty() {
            String::new()
        } else {
            self.convert_tokens_to_string(tokens)
        };
        Ok(if clean_up_tokenization_spaces {
            clean_up_tokenization(&text)
        } else {
            text
        })
    }

    /// `T5Tokenizer.convert_tokens_to_string`: SentencePiece decodes the runs between special
    /// tokens; a special token is preceded by a space unless it follows another one.
    fn convert_tokens_to_string(&self, mut tokens: Vec<String>) -> String {
        if let Some(first) = tokens.first_mut()
            && let Some(rest) = first.strip_prefix(SPACE_SYMBOL)
        {
            *first = rest.to_string();
        }
        let mut out = String::new();
        let mut run: Vec<String> = Vec::new();
        let mut prev_is_special = false;
        for token in tokens {
            if SPECIAL_TOKENS.contains(&token.as_str()) {
                if !prev_is_special {
                    out.push(' ');
                }
                out.push_str(&self.decode_pieces(&run));
                out.push_str(&token);
                prev_is_special = true;
                run.clear();
            } else {
                run.push(token);
                prev_is_special = false;
            }
        }
        out.push_str(&self.decode_pieces(&run));
        python_strip(&out).to_string()
    }

    fn decode_pieces(&self, pieces: &[String]) -> String {
        match &self.backend {
            Backend::SentencePiece(model) => model.decode_pieces(pieces),
            // mT5's settings (dummy prefix, extra-whitespace removal): drop leading `▁`s of the
            // leading pieces, `▁` → space.
            Backend::Fast(_) => {
                let joined: String = pieces.concat();
                joined
                    .trim_start_matches(SPACE_SYMBOL)
                    .replace(SPACE_SYMBOL, " ")
            }
        }
    }
}

enum Segment<'a> {
    Text(&'a str),
    Special(usize),
}

/// Splits text around literal special tokens (transformers' added-tokens trie: leftmost match).
fn split_on_specials(text: &str) -> Vec<Segment<'_>> {
    let mut segments = Vec::new();
    let mut start = 0;
    let mut pos = 0;
    while pos < text.len() {
        let found = SPECIAL_TOKENS
            .iter()
            .position(|t| text[pos..].starts_with(t));
        match found {
            Some(index) => {
                segments.push(Segment::Text(&text[start..pos]));
                segments.push(Segment::Special(index));
                pos += SPECIAL_TOKENS[index].len();
                start = pos;
            }
            None => pos += text[pos..].chars().next().map_or(1, char::len_utf8),
        }
    }
    segments.push(Segment::Text(&text[start..]));
    segments
}

/// Python's `str.strip()`: Unicode whitespace plus the ASCII separators U+001C..U+001F.
fn python_strip(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// transformers' `clean_up_tokenization`: drops the space before `. ? ! ,` and English
/// contractions, and turns ` ' ` into `'`.
pub fn clean_up_tokenization(text: &str) -> String {
    text.replace(" .", ".")
        .replace(" ?", "?")
        .replace(" !", "!")
        .replace(" ,", ",")
        .replace(" ' ", "'")
        .replace(" n't", "n't")
        .replace(" 'm", "'m")
        .replace(" 's", "'s")
        .replace(" 've", "'ve")
        .replace(" 're", "'re")
}
