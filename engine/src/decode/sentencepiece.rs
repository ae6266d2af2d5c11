//! SentencePiece models read straight from their `.model` protobuf, encoded exactly as the
//! `sentencepiece` library does (normaliser, whitespace rules, unigram Viterbi via `tokenizers`,
//! or score-ordered BPE merges).

use std::path::{Path, PathBuf};

use prost::Message;
use tokenizers::models::unigram::Unigram;
use tokenizers::normalizers::{Precompiled, Replace, Sequence, Strip};
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, Model, NormalizerWrapper, Tokenizer};

/// The whitespace marker SentencePiece writes in place of spaces.
pub const SPACE_SYMBOL: char = '\u{2581}';

/// Errors of reading or using a SentencePiece model.
#[derive(Debug, thiserror::Error)]
pub enum SentencePieceError {
    /// The model file could not be read.
    #[error("cannot read SentencePiece model {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a SentencePiece `ModelProto`.
    #[error("{path} is not a SentencePiece model")]
    Decode {
        /// The file.
        path: PathBuf,
        /// The protobuf error.
        source: prost::DecodeError,
    },
    /// The model is readable but cannot be used.
    #[error("{path}: {problem}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The `tokenizers` crate refused the vocabulary or failed to encode.
    #[error("tokenizer error: {0}")]
    Tokenizers(String),
}

/// `sentencepiece_model.proto` messages, only the fields this port reads.
mod proto {
    /// `ModelProto`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ModelProto {
        #[prost(message, repeated, tag = "1")]
        pub pieces: Vec<SentencePiece>,
        #[prost(message, optional, tag = "2")]
        pub trainer_spec: Option<TrainerSpec>,
        #[prost(message, optional, tag = "3")]
        pub normalizer_spec: Option<NormalizerSpec>,
    }

    /// `ModelProto.SentencePiece`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SentencePiece {
        #[prost(string, optional, tag = "1")]
        pub piece: Option<String>,
        #[prost(float, optional, tag = "2")]
        pub score: Option<f32>,
        #[prost(int32, optional, tag = "3")]
        pub r#type: Option<i32>,
    }

    /// `TrainerSpec`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TrainerSpec {
        #[prost(int32, optional, tag = "3")]
        pub model_type: Option<i32>,
        #[prost(bool, optional, tag = "24")]
        pub treat_whitespace_as_suffix: Option<bool>,
        #[prost(bool, optional, tag = "35")]
        pub byte_fallback: Option<bool>,
        #[prost(int32, optional, tag = "40")]
        pub unk_id: Option<i32>,
    }

    /// `NormalizerSpec`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NormalizerSpec {
        #[prost(string, optional, tag = "1")]
        pub name: Option<String>,
        #[prost(bytes = "vec", optional, tag = "2")]
        pub precompiled_charsmap: Option<Vec<u8>>,
        #[prost(bool, optional, tag = "3")]
        pub add_dummy_prefix: Option<bool>,
        #[prost(bool, optional, tag = "4")]
        pub remove_extra_whitespaces: Option<bool>,
        #[prost(bool, optional, tag = "5")]
        pub escape_whitespaces: Option<bool>,
    }
}

/// The type of a piece (`ModelProto.SentencePiece.Type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PieceKind {
    /// An ordinary piece.
    Normal,
    /// The unknown piece.
    Unknown,
    /// A control symbol (`</s>`, `<pad>`); never matched in text.
    Control,
    /// A user-defined symbol; always matched as a whole, never normalised.
    UserDefined,
    /// An unused piece; never produced.
    Unused,
    /// A byte-fallback piece `<0xNN>`.
    Byte,
}

impl PieceKind {
    fn from_proto(value: i32) -> Option<Self> {
        Some(match value {
            1 => Self::Normal,
            2 => Self::Unknown,
            3 => Self::Control,
            4 => Self::UserDefined,
            5 => Self::Unused,
            6 => Self::Byte,
            _ => return None,
        })
    }
}

/// One vocabulary entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Piece {
    /// The piece text, `▁` for spaces.
    pub text: String,
    /// Its log-probability score.
    pub score: f32,
    /// Its type.
    pub kind: PieceKind,
}

/// The normaliser settings of a model (`NormalizerSpec`).
#[derive(Clone, Debug)]
pub struct NormalizerSettings {
    /// Rule name, e.g. `nmt_nfkc`.
    pub name: String,
    /// The compiled character map (empty for `identity`).
    pub precompiled_charsmap: Vec<u8>,
    /// Whether a `▁` is put in front of the text.
    pub add_dummy_prefix: bool,
    /// Whether leading, trailing and repeated spaces are removed.
    pub remove_extra_whitespaces: bool,
    /// Whether spaces become `▁`.
    pub escape_whitespaces: bool,
}

/// The segmentation algorithm of a model.
enum Algorithm {
    /// Unigram language model: Viterbi over the piece lattice.
    Unigram(Box<Unigram>),
    /// BPE: merge the best-scoring adjacent pair until none is in the vocabulary.
    Bpe,
}

/// A SentencePiece unigram or BPE model, read from its `.model` file.
pub struct SentencePieceModel {
    pieces: Vec<Piece>,
    unk_id: u32,
    normalizer: NormalizerSettings,
    charsmap: Option<CharsMap>,
    user_defined: Vec<String>,
    ids_by_piece: std::collections::HashMap<String, u32>,
    algorithm: Algorithm,
}

impl std::fmt::Debug for SentencePieceModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentencePieceModel")
            .field("pieces", &self.pieces.len())
            .field("unk_id", &self.unk_id)
            .field("normalizer", &self.normalizer.name)
            .finish()
    }
}

/// A piece found in a normalised string.
#[derive(Clone, Debug, PartialEq)]
pub struct EncodedPiece {
    /// Vocabulary id (the unknown id for text outside the vocabulary).
    pub id: u32,
    /// The normalised text it covers, `▁` for spaces.
    pub text: String,
}

impl SentencePieceModel {
    /// Reads a `.model` file (a serialised `ModelProto`).
    pub fn from_file(path: &Path) -> Result<Self, SentencePieceError> {
        let bytes = std::fs::read(path).map_err(|source| SentencePieceError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes, path)
    }

    /// Parses a serialised `ModelProto`; `path` only names it in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, SentencePieceError> {
        let invalid = |problem: String| SentencePieceError::Invalid {
            path: path.to_path_buf(),
            problem,
        };
        let model =
            proto::ModelProto::decode(bytes).map_err(|source| SentencePieceError::Decode {
                path: path.to_path_buf(),
                source,
            })?;
        let trainer = model.trainer_spec.unwrap_or_default();
        // Proto2 default of model_type is UNIGRAM (1).
        let model_type = trainer.model_type.unwrap_or(1);
        if model_type != 1 && model_type != 2 {
            let name = match model_type {
                3 => "word",
                4 => "char",
                _ => "unknown",
            };
            return Err(invalid(format!(
                "only unigram and BPE models are supported, this one is {name} (model_type {model_type})"
            )));
        }
        if trainer.treat_whitespace_as_suffix.unwrap_or(false) {
            return Err(invalid(
                "treat_whitespace_as_suffix models are not supported".into(),
            ));
        }
        if trainer.byte_fallback.unwrap_or(false) {
            return Err(invalid("byte-fallback models are not supported".into()));
        }
        let spec = model.normalizer_spec.unwrap_or_default();
        let normalizer = NormalizerSettings {
            name: spec.name.unwrap_or_default(),
            precompiled_charsmap: spec.precompiled_charsmap.unwrap_or_default(),
            add_dummy_prefix: spec.add_dummy_prefix.unwrap_or(true),
            remove_extra_whitespaces: spec.remove_extra_whitespaces.unwrap_or(true),
            escape_whitespaces: spec.escape_whitespaces.unwrap_or(true),
        };
        let charsmap = if normalizer.precompiled_charsmap.is_empty() {
            None
        } else {
            Some(CharsMap::parse(&normalizer.precompiled_charsmap).map_err(invalid)?)
        };

        let mut pieces = Vec::with_capacity(model.pieces.len());
        for (index, p) in model.pieces.into_iter().enumerate() {
            let kind_value = p.r#type.unwrap_or(1);
            let kind = PieceKind::from_proto(kind_value)
                .ok_or_else(|| invalid(format!("piece {index} has unknown type {kind_value}")))?;
            pieces.push(Piece {
                text: p.piece.unwrap_or_default(),
                score: p.score.unwrap_or(0.0),
                kind,
            });
        }
        let unk_id = pieces
            .iter()
            .position(|p| p.kind == PieceKind::Unknown)
            .ok_or_else(|| invalid("the model has no unknown piece".into()))?;
        if let Some(declared) = trainer.unk_id
            && declared as usize != unk_id
        {
            return Err(invalid(format!(
                "trainer_spec.unk_id is {declared} but the unknown piece is {unk_id}"
            )));
        }
        let user_defined = pieces
            .iter()
            .filter(|p| p.kind == PieceKind::UserDefined)
            .map(|p| p.text.clone())
            .collect();
        let algorithm = if model_type == 1 {
            Algorithm::Unigram(Box::new(build_unigram(&pieces, unk_id)?))
        } else {
            Algorithm::Bpe
        };
        let mut ids_by_piece = std::collections::HashMap::with_capacity(pieces.len());
        for (id, p) in pieces.iter().enumerate().rev() {
            // The first of duplicate pieces wins, as in sentencepiece.
            ids_by_piece.insert(p.text.clone(), id as u32);
        }
        Ok(Self {
            ids_by_piece,
            pieces,
            unk_id: unk_id as u32,
            normalizer,
            charsmap,
            user_defined,
            algorithm,
        })
    }

    /// Overrides the normaliser's dummy prefix (transformers' `T5Tokenizer` with `legacy=False`
    /// loads the model with `add_dummy_prefix = False` and adds the prefix itself).
    pub fn set_add_dummy_prefix(&mut self, add_dummy_prefix: bool) {
        self.normalizer.add_dummy_prefix = add_dummy_prefix;
    }

    /// All pieces, indexed by id.
    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// The id of the unknown piece.
    pub fn unk_id(&self) -> u32 {
        self.unk_id
    }

    /// The normaliser settings.
    pub fn normalizer_settings(&self) -> &NormalizerSettings {
        &self.normalizer
    }

    /// The id of a piece, if it is in the vocabulary.
    pub fn piece_to_id(&self, piece: &str) -> Option<u32> {
        self.ids_by_piece.get(piece).copied()
    }

    /// Normalises text as `sentencepiece` does before segmenting it: the character map,
    /// whitespace rules, the dummy prefix and `▁` for spaces.
    pub fn normalize(&self, text: &str) -> String {
        let settings = &self.normalizer;
        let space: &str = if settings.escape_whitespaces {
            "\u{2581}"
        } else {
            " "
        };
        let mut rest = text;
        if settings.remove_extra_whitespaces {
            while !rest.is_empty() {
                let (normalized, consumed) = self.normalize_prefix(rest);
                if normalized != " " {
                    break;
                }
                rest = &rest[consumed..];
            }
        }
        let mut out = String::with_capacity(text.len() + 3);
        if rest.is_empty() {
            return out;
        }
        if settings.add_dummy_prefix {
            out.push_str(space);
        }
        let mut is_prev_space = settings.remove_extra_whitespaces;
        while !rest.is_empty() {
            let (normalized, consumed) = self.normalize_prefix(rest);
            let mut piece = normalized;
            if is_prev_space {
                piece = piece.trim_start_matches(' ');
            }
            if !piece.is_empty() {
                for c in piece.chars() {
                    if settings.escape_whitespaces && c == ' ' {
                        out.push_str(space);
                    } else {
                        out.push(c);
                    }
                }
                is_prev_space = piece.ends_with(' ');
            }
            rest = &rest[consumed..];
            if !settings.remove_extra_whitespaces {
                is_prev_space = false;
            }
        }
        if settings.remove_extra_whitespaces {
            while out.ends_with(space) {
                out.truncate(out.len() - space.len());
            }
        }
        out
    }

    /// Normalises the longest known prefix of `input`: a user-defined symbol unchanged, else the
    /// longest character-map entry, else one character unchanged. Returns (output, bytes used).
    fn normalize_prefix<'a>(&'a self, input: &'a str) -> (&'a str, usize) {
        if let Some(len) = self
            .user_defined
            .iter()
            .filter(|s| !s.is_empty() && input.starts_with(s.as_str()))
            .map(|s| s.len())
            .max()
        {
            return (&input[..len], len);
        }
        if let Some((len, normalized)) = self
            .charsmap
            .as_ref()
            .and_then(|m| m.longest_prefix(input.as_bytes()))
        {
            return (normalized, len);
        }
        let len = input.chars().next().map_or(0, char::len_utf8);
        (&input[..len], len)
    }

    /// Segments already-normalised text into pieces (unigram: Viterbi, consecutive unknown
    /// characters fuse into one unknown piece; BPE: score-ordered merges), as `sentencepiece`.
    pub fn segment(&self, normalized: &str) -> Result<Vec<EncodedPiece>, SentencePieceError> {
        if normalized.is_empty() {
            return Ok(Vec::new());
        }
        let unigram = match &self.algorithm {
            Algorithm::Unigram(unigram) => unigram,
            Algorithm::Bpe => return Ok(self.segment_bpe(normalized)),
        };
        let tokens = unigram
            .tokenize(normalized)
            .map_err(|e| SentencePieceError::Tokenizers(e.to_string()))?;
        Ok(tokens
            .into_iter()
            .map(|t| EncodedPiece {
                id: t.id,
                text: normalized
                    .get(t.offsets.0..t.offsets.1)
                    .unwrap_or_default()
                    .to_string(),
            })
            .collect())
    }

    /// The id of a piece that text may be segmented into (normal, user-defined, unused).
    fn matchable_id(&self, piece: &str) -> Option<u32> {
        self.piece_to_id(piece).filter(|&id| {
            matches!(
                self.pieces[id as usize].kind,
                PieceKind::Normal | PieceKind::UserDefined | PieceKind::Unused
            )
        })
    }

    /// sentencepiece's BPE: start from characters (user-defined symbols whole and frozen),
    /// repeatedly merge the adjacent pair with the best piece score (leftmost on ties), then
    /// split unused pieces back into the pair they were merged from.
    fn segment_bpe(&self, normalized: &str) -> Vec<EncodedPiece> {
        use std::cmp::Ordering;
        use std::collections::{BinaryHeap, HashMap};

        struct Symbol {
            start: usize,
            end: usize,
            prev: Option<usize>,
            next: Option<usize>,
            frozen: bool,
        }
        struct Pair {
            score: f32,
            left: usize,
            right: usize,
            len: usize,
        }
        impl PartialEq for Pair {
            fn eq(&self, other: &Self) -> bool {
                self.cmp(other) == Ordering::Equal
            }
        }
        impl Eq for Pair {}
        impl PartialOrd for Pair {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }
        impl Ord for Pair {
            // Max-heap: higher score first, then the leftmost pair.
            fn cmp(&self, other: &Self) -> Ordering {
                self.score
                    .total_cmp(&other.score)
                    .then(other.left.cmp(&self.left))
            }
        }

        let mut symbols: Vec<Symbol> = Vec::new();
        let mut pos = 0;
        while pos < normalized.len() {
            let rest = &normalized[pos..];
            let user = self
                .user_defined
                .iter()
                .filter(|u| !u.is_empty() && rest.starts_with(u.as_str()))
                .map(String::len)
                .max();
            let len = user.unwrap_or_else(|| rest.chars().next().map_or(1, char::len_utf8));
            let index = symbols.len();
            symbols.push(Symbol {
                start: pos,
                end: pos + len,
                prev: index.checked_sub(1),
                next: (pos + len < normalized.len()).then_some(index + 1),
                frozen: user.is_some(),
            });
            pos += len;
        }
        let mut agenda = BinaryHeap::new();
        // Unused merged pieces and the two pieces they were made of.
        let mut unmerge: HashMap<String, (String, String)> = HashMap::new();
        let mut add_pair = |symbols: &[Symbol],
                            agenda: &mut BinaryHeap<Pair>,
                            left: Option<usize>,
                            right: Option<usize>| {
            let (Some(left), Some(right)) = (left, right) else {
                return;
            };
            if symbols[left].frozen || symbols[right].frozen {
                return;
            }
            let piece = &normalized[symbols[left].start..symbols[right].end];
            let Some(id) = self.matchable_id(piece) else {
                return;
            };
            let entry = &self.pieces[id as usize];
            agenda.push(Pair {
                score: entry.score,
                left,
                right,
                len: piece.len(),
            });
            if entry.kind == PieceKind::Unused {
                unmerge.insert(
                    piece.to_string(),
                    (
                        normalized[symbols[left].start..symbols[left].end].to_string(),
                        normalized[symbols[right].start..symbols[right].end].to_string(),
                    ),
                );
            }
        };
        for i in 1..symbols.len() {
            add_pair(&symbols, &mut agenda, Some(i - 1), Some(i));
        }
        while let Some(top) = agenda.pop() {
            let (left, right) = (&symbols[top.left], &symbols[top.right]);
            let live = left.end > left.start && right.end > right.start;
            if !live || (left.end - left.start) + (right.end - right.start) != top.len {
                continue;
            }
            let right_next = symbols[top.right].next;
            symbols[top.left].end = symbols[top.right].end;
            symbols[top.left].next = right_next;
            if let Some(n) = right_next {
                symbols[n].prev = Some(top.left);
            }
            symbols[top.right].end = symbols[top.right].start;
            let prev = symbols[top.left].prev;
            add_pair(&symbols, &mut agenda, prev, Some(top.left));
            add_pair(&symbols, &mut agenda, Some(top.left), right_next);
        }

        fn resegment(
            model: &SentencePieceModel,
            unmerge: &HashMap<String, (String, String)>,
            piece: &str,
            out: &mut Vec<EncodedPiece>,
        ) {
            let id = model.piece_to_id(piece).unwrap_or(model.unk_id);
            if model.pieces[id as usize].kind == PieceKind::Unused
                && let Some((left, right)) = unmerge.get(piece)
            {
                resegment(model, unmerge, left, out);
                resegment(model, unmerge, right, out);
                return;
            }
            out.push(EncodedPiece {
                id,
                text: piece.to_string(),
            });
        }
        let mut out = Vec::new();
        let mut index = (!symbols.is_empty()).then_some(0);
        while let Some(i) = index {
            let piece = &normalized[symbols[i].start..symbols[i].end];
            resegment(self, &unmerge, piece, &mut out);
            index = symbols[i].next;
        }
        // Consecutive unknown pieces become one, as in sentencepiece.
        let mut fused: Vec<EncodedPiece> = Vec::with_capacity(out.len());
        for piece in out {
            match fused.last_mut() {
                Some(last) if last.id == self.unk_id && piece.id == self.unk_id => {
                    last.text.push_str(&piece.text)
                }
                _ => fused.push(piece),
            }
        }
        fused
    }

    /// `SentencePieceProcessor.encode(text)`: normalise, then segment.
    pub fn encode(&self, text: &str) -> Result<Vec<EncodedPiece>, SentencePieceError> {
        self.segment(&self.normalize(text))
    }

    /// `SentencePieceProcessor.decode(pieces)` for piece strings: the first leading `▁`s are
    /// dropped, `▁` becomes a space, control pieces vanish, unknown pieces read ` ⁇ `.
    pub fn decode_pieces<S: AsRef<str>>(&self, pieces: &[S]) -> String {
        let settings = &self.normalizer;
        let strip_leading = settings.add_dummy_prefix || settings.remove_extra_whitespaces;
        let mut out = String::new();
        let mut at_start = true;
        for piece in pieces {
            let piece = piece.as_ref();
            let id = self.piece_to_id(piece).unwrap_or(self.unk_id);
            let kind = self.pieces.get(id as usize).map(|p| p.kind);
            let mut consumed_space = false;
            let decoded = match kind {
                Some(PieceKind::Control) => String::new(),
                Some(PieceKind::Unknown) if self.pieces[id as usize].text == piece => {
                    " \u{2047} ".to_string()
                }
                Some(PieceKind::Unknown) => piece.to_string(),
                _ => {
                    let mut text = piece;
                    if at_start
                        && strip_leading
                        && let Some(stripped) = text.strip_prefix(SPACE_SYMBOL)
                    {
                        text = stripped;
                        // With extra-whitespace removal every leading space goes.
                        consumed_space = !settings.remove_extra_whitespaces;
                    }
                    text.replace(SPACE_SYMBOL, " ")
                }
            };
            if at_start && (!decoded.is_empty() || consumed_space) {
                at_start = false;
            }
            out.push_str(&decoded);
        }
        out
    }

    /// The `tokenizers` tokenizer that transformers' `T5TokenizerFast` conversion builds from this
    /// model: the character map, right strip, runs of spaces to one `▁`, `Metaspace`, `</s>`
    /// appended. Close to, but not exactly, `sentencepiece` (see `MT5Tokenizer`).
    pub fn to_fast_tokenizer(&self) -> Result<Tokenizer, SentencePieceError> {
        let err = |e: tokenizers::Error| SentencePieceError::Tokenizers(e.to_string());
        if matches!(self.algorithm, Algorithm::Bpe) {
            return Err(SentencePieceError::Tokenizers(
                "the fast conversion is only built for unigram models".into(),
            ));
        }
        let vocab = self
            .pieces
            .iter()
            .map(|p| (p.text.clone(), f64::from(p.score)))
            .collect();
        let unigram = Unigram::from(vocab, Some(self.unk_id as usize), false).map_err(err)?;
        let mut tokenizer = Tokenizer::new(unigram);
        let mut normalizers: Vec<NormalizerWrapper> = Vec::new();
        if !self.normalizer.precompiled_charsmap.is_empty() {
            let precompiled = Precompiled::from(&self.normalizer.precompiled_charsmap)
                .map_err(|e| SentencePieceError::Tokenizers(e.to_string()))?;
            normalizers.push(precompiled.into());
        }
        normalizers.push(Strip::new(false, true).into());
        normalizers.push(
            Replace::new(
                tokenizers::normalizers::replace::ReplacePattern::Regex(" {2,}".into()),
                SPACE_SYMBOL.to_string(),
            )
            .map_err(err)?
            .into(),
        );
        tokenizer
            .with_normalizer(Some(Sequence::new(normalizers)))
            .map_err(err)?;
        let prepend = if self.normalizer.add_dummy_prefix {
            PrependScheme::First
        } else {
            PrependScheme::Never
        };
        tokenizer.with_pre_tokenizer(Some(Metaspace::new(SPACE_SYMBOL, prepend, true)));
        tokenizer.with_decoder(Some(Metaspace::new(SPACE_SYMBOL, prepend, true)));
        let specials: Vec<AddedToken> = self
            .pieces
            .iter()
            .filter(|p| matches!(p.kind, PieceKind::Control | PieceKind::Unknown))
            .map(|p| AddedToken::from(p.text.clone(), true))
            .collect();
        tokenizer.add_special_tokens(specials).map_err(err)?;
        if let Some(eos) = self.piece_to_id("</s>") {
            let processor = TemplateProcessing::builder()
                .try_single("$A </s>")
                .and_then(|b| b.try_pair("$A </s> $B </s>"))
                .map_err(SentencePieceError::Tokenizers)?
                .special_tokens(vec![("</s>", eos)])
                .build()
                .map_err(|e| SentencePieceError::Tokenizers(e.to_string()))?;
            tokenizer.with_post_processor(Some(processor));
        }
        Ok(tokenizer)
    }
}

/// Builds the unigram lattice model with `sentencepiece`'s matching rules: control, unknown,
/// unused and byte pieces never match text, user-defined pieces always win.
fn build_unigram(pieces: &[Piece], unk_id: usize) -> Result<Unigram, SentencePieceError> {
    let max_score = pieces
        .iter()
        .filter(|p| p.kind == PieceKind::Normal)
        .map(|p| p.score)
        .fold(f32::NEG_INFINITY, f32::max);
    let min_score = pieces
        .iter()
        .filter(|p| p.kind == PieceKind::Normal)
        .map(|p| p.score)
        .fold(f32::INFINITY, f32::min);
    let vocab = pieces
        .iter()
        .enumerate()
        .map(|(id, p)| match p.kind {
            PieceKind::Normal => (p.text.clone(), f64::from(p.score)),
            // sentencepiece scores a user-defined symbol length·max_score − 0.1 (length in
            // bytes); it stays above the unknown score because max_score ≥ min_score.
            PieceKind::UserDefined => (
                p.text.clone(),
                (p.text.len() as f64) * f64::from(max_score) - 0.1,
            ),
            // Not in sentencepiece's matching trie: give them names text cannot contain and
            // the lowest normal score so they cannot lower the unknown penalty's base.
            PieceKind::Unknown | PieceKind::Control | PieceKind::Unused | PieceKind::Byte => {
                (format!("\u{0}unmatchable-{id}"), f64::from(min_score))
            }
        })
        .collect();
    Unigram::from(vocab, Some(unk_id), false)
        .map_err(|e| SentencePieceError::Tokenizers(e.to_string()))
}

/// The `precompiled_charsmap`: a darts-clone double-array trie over UTF-8 input bytes whose
/// values are offsets of NUL-terminated replacements in a string blob.
struct CharsMap {
    units: Vec<u32>,
    normalized: Vec<u8>,
}

impl CharsMap {
    fn parse(blob: &[u8]) -> Result<Self, String> {
        let size_bytes: [u8; 4] = blob
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or("precompiled_charsmap is shorter than its header")?;
        let trie_size = u32::from_le_bytes(size_bytes) as usize;
        let trie = blob
            .get(4..4 + trie_size)
            .filter(|t| t.len() % 4 == 0 && !t.is_empty())
            .ok_or("precompiled_charsmap trie size does not fit the blob")?;
        let units = trie
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok(Self {
            units,
            normalized: blob[4 + trie_size..].to_vec(),
        })
    }

    fn unit(&self, pos: usize) -> Option<u32> {
        self.units.get(pos).copied()
    }

    /// The longest key that prefixes `input`: (its length in bytes, its replacement).
    fn longest_prefix(&self, input: &[u8]) -> Option<(usize, &str)> {
        let offset = |u: u32| ((u >> 10) << ((u & (1 << 9)) >> 6)) as usize;
        let label = |u: u32| u & ((1 << 31) | 0xFF);
        let mut best = None;
        let mut pos = offset(self.unit(0)?);
        for (i, &byte) in input.iter().enumerate() {
            if byte == 0 {
                break;
            }
            pos ^= byte as usize;
            let unit = self.unit(pos)?;
            if label(unit) != u32::from(byte) {
                break;
            }
            pos ^= offset(unit);
            if (unit >> 8) & 1 == 1 {
                let value = (self.unit(pos)? & ((1 << 31) - 1)) as usize;
                best = Some((i + 1, value));
            }
        }
        let (len, start) = best?;
        let tail = self.normalized.get(start..)?;
        let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
        let replacement = std::str::from_utf8(&tail[..end]).ok()?;
        // A key must end on a character boundary to be usable on &str input.
        std::str::from_utf8(&input[..len]).ok()?;
        Some((len, replacement))
    }
}
