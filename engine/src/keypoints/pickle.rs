//! Uni-Sign `.pkl` pose files: a pickled dict `{"keypoints": [float64 (persons, 133, 2) x/W, y/H],
//! "scores": [float32 (persons, 133)]}`, one entry per frame (Uni-Sign `demo/pose_extraction.py`).
//!
//! No crate reads or writes NumPy arrays inside pickles, so this holds a small pickle machine for
//! the opcodes Python's pickler emits for such dicts (protocols 2 to 5) and a writer that emits
//! protocol 4 with `numpy.core.multiarray._reconstruct`, which NumPy 1.x and 2.x both load.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// A NumPy array read from a pickle, converted to f64.
#[derive(Clone, Debug, PartialEq)]
pub struct NdArray {
    /// Shape, outermost first.
    pub shape: Vec<usize>,
    /// Values in row-major (C) order.
    pub values: Vec<f64>,
}

/// A value on the pickle machine's stack. Mutable containers are shared, as in Python, so a
/// memoised list sees the items appended after it was memoised.
#[derive(Clone, Debug)]
pub enum Value {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A `str`.
    Str(String),
    /// `bytes` or `bytearray`.
    Bytes(Rc<Vec<u8>>),
    /// A tuple.
    Tuple(Rc<Vec<Value>>),
    /// A list.
    List(Rc<RefCell<Vec<Value>>>),
    /// A dict, in insertion order.
    Dict(Rc<RefCell<Vec<(Value, Value)>>>),
    /// A global such as `numpy.ndarray`.
    Global(Rc<(String, String)>),
    /// The result of calling a global (`REDUCE`/`NEWOBJ`), with the state `BUILD` set on it.
    Object(Rc<RefCell<Object>>),
    /// A decoded NumPy array.
    Array(Rc<NdArray>),
}

/// An object made by calling a global.
#[derive(Debug)]
pub struct Object {
    /// The callable: `module.name`.
    pub callable: Value,
    /// Its arguments.
    pub args: Value,
    /// The state set by `BUILD`.
    pub state: Option<Value>,
}

/// Runs the pickle machine over `bytes` and returns the top-level value.
pub fn unpickle(bytes: &[u8]) -> Result<Value, String> {
    let mut m = Machine {
        bytes,
        pos: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
    };
    m.run()
}

struct Machine<'a> {
    bytes: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
}

impl Machine<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| format!("truncated pickle at byte {}", self.pos))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, String> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn line(&mut self) -> Result<String, String> {
        let rest = &self.bytes[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("truncated pickle: unterminated line")?;
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        self.pos += n + 1;
        Ok(s)
    }
    fn utf8(&mut self, n: usize) -> Result<String, String> {
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| "a pickled string is not UTF-8".to_string())
    }
    fn pop(&mut self) -> Result<Value, String> {
        self.stack
            .pop()
            .ok_or_else(|| "pickle stack underflow".to_string())
    }
    fn top(&self) -> Result<&Value, String> {
        self.stack
            .last()
            .ok_or_else(|| "pickle stack underflow".to_string())
    }
    fn pop_mark(&mut self) -> Result<Vec<Value>, String> {
        let mark = self.marks.pop().ok_or("pickle MARK missing")?;
        if mark > self.stack.len() {
            return Err("pickle MARK past the stack".into());
        }
        Ok(self.stack.split_off(mark))
    }
    fn push_tuple(&mut self, items: Vec<Value>) {
        self.stack.push(Value::Tuple(Rc::new(items)));
    }
    fn bytes_value(&mut self, n: usize) -> Result<(), String> {
        let b = self.take(n)?.to_vec();
        self.stack.push(Value::Bytes(Rc::new(b)));
        Ok(())
    }

    fn run(&mut self) -> Result<Value, String> {
        loop {
            let op = self.u8()?;
            match op {
                0x80 => {
                    let proto = self.u8()?;
                    if proto > 5 {
                        return Err(format!("unsupported pickle protocol {proto}"));
                    }
                }
                0x95 => {
                    self.u64()?; // FRAME: a length hint only.
                }
                b'.' => return self.pop(),
                b'(' => self.marks.push(self.stack.len()),
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Bool(true)),
                0x89 => self.stack.push(Value::Bool(false)),
                b'K' => {
                    let v = self.u8()?;
                    self.stack.push(Value::Int(v.into()));
                }
                b'M' => {
                    let v = self.u16()?;
                    self.stack.push(Value::Int(v.into()));
                }
                b'J' => {
                    let v = self.u32()? as i32;
                    self.stack.push(Value::Int(v.into()));
                }
                0x8a => {
                    let n = self.u8()? as usize;
                    let b = self.take(n)?;
                    if n > 8 {
                        return Err("pickled integer too large".into());
                    }
                    let mut a = if b.last().is_some_and(|&x| x & 0x80 != 0) {
                        [0xffu8; 8]
                    } else {
                        [0u8; 8]
                    };
                    a[..n].copy_from_slice(b);
                    self.stack.push(Value::Int(i64::from_le_bytes(a)));
                }
                b'G' => {
                    let b = self.take(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    self.stack.push(Value::Float(f64::from_be_bytes(a)));
                }
                0x8c => {
                    let n = self.u8()? as usize;
                    let s = self.utf8(n)?;
                    self.stack.push(Value::Str(s));
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    let s = self.utf8(n)?;
                    self.stack.push(Value::Str(s));
                }
                0x8d => {
                    let n = usize::try_from(self.u64()?).map_err(|_| "string too long")?;
                    let s = self.utf8(n)?;
                    self.stack.push(Value::Str(s));
                }
                // SHORT_BINSTRING / BINSTRING (protocol 2 `str` of Python 2): latin-1 text.
                b'U' => {
                    let n = self.u8()? as usize;
                    let s = self.take(n)?.iter().map(|&b| b as char).collect();
                    self.stack.push(Value::Str(s));
                }
                b'T' => {
                    let n = self.u32()? as usize;
                    let s = self.take(n)?.iter().map(|&b| b as char).collect();
                    self.stack.push(Value::Str(s));
                }
                b'C' => {
                    let n = self.u8()? as usize;
                    self.bytes_value(n)?;
                }
                b'B' => {
                    let n = self.u32()? as usize;
                    self.bytes_value(n)?;
                }
                0x8e | 0x96 => {
                    let n = usize::try_from(self.u64()?).map_err(|_| "bytes too long")?;
                    self.bytes_value(n)?;
                }
                b')' => self.push_tuple(Vec::new()),
                0x85 => {
                    let a = self.pop()?;
                    self.push_tuple(vec![a]);
                }
                0x86 => {
                    let b = self.pop()?;
                    let a = self.pop()?;
                    self.push_tuple(vec![a, b]);
                }
                0x87 => {
                    let c = self.pop()?;
                    let b = self.pop()?;
                    let a = self.pop()?;
                    self.push_tuple(vec![a, b, c]);
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.push_tuple(items);
                }
                b']' => self.stack.push(Value::List(Rc::default())),
                b'l' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::List(Rc::new(RefCell::new(items))));
                }
                b'a' => {
                    let v = self.pop()?;
                    match self.top()? {
                        Value::List(l) => l.borrow_mut().push(v),
                        _ => return Err("APPEND to a non-list".into()),
                    }
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    match self.top()? {
                        Value::List(l) => l.borrow_mut().extend(items),
                        _ => return Err("APPENDS to a non-list".into()),
                    }
                }
                b'}' => self.stack.push(Value::Dict(Rc::default())),
                b'd' => {
                    let items = self.pop_mark()?;
                    let pairs = pairs(items)?;
                    self.stack.push(Value::Dict(Rc::new(RefCell::new(pairs))));
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    match self.top()? {
                        Value::Dict(d) => d.borrow_mut().push((k, v)),
                        _ => return Err("SETITEM on a non-dict".into()),
                    }
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let new = pairs(items)?;
                    match self.top()? {
                        Value::Dict(d) => d.borrow_mut().extend(new),
                        _ => return Err("SETITEMS on a non-dict".into()),
                    }
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.stack.push(Value::Global(Rc::new((module, name))));
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (module, name) {
                        (Value::Str(m), Value::Str(n)) => {
                            self.stack.push(Value::Global(Rc::new((m, n))));
                        }
                        _ => return Err("STACK_GLOBAL without two strings".into()),
                    }
                }
                b'R' | 0x81 => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let v = construct(callable, args)?;
                    self.stack.push(v);
                }
                b'b' => {
                    let state = self.pop()?;
                    let built = match self.pop()? {
                        Value::Object(o) => {
                            o.borrow_mut().state = Some(state);
                            finish_object(&o)?
                        }
                        _ => return Err("BUILD on an object that is not a class instance".into()),
                    };
                    self.stack.push(built);
                }
                0x94 => {
                    let v = self.top()?.clone();
                    let id = self.memo.len() as u32;
                    self.memo.insert(id, v);
                }
                b'q' => {
                    let id = self.u8()?.into();
                    let v = self.top()?.clone();
                    self.memo.insert(id, v);
                }
                b'r' => {
                    let id = self.u32()?;
                    let v = self.top()?.clone();
                    self.memo.insert(id, v);
                }
                b'h' => {
                    let id = self.u8()?.into();
                    self.get(id)?;
                }
                b'j' => {
                    let id = self.u32()?;
                    self.get(id)?;
                }
                b'0' => {
                    self.pop()?;
                }
                other => return Err(format!("unsupported pickle opcode 0x{other:02x}")),
            }
        }
    }

    fn get(&mut self, id: u32) -> Result<(), String> {
        let v = self
            .memo
            .get(&id)
            .cloned()
            .ok_or_else(|| format!("pickle memo {id} missing"))?;
        self.stack.push(v);
        Ok(())
    }
}

fn pairs(items: Vec<Value>) -> Result<Vec<(Value, Value)>, String> {
    if !items.len().is_multiple_of(2) {
        return Err("odd number of dict items".into());
    }
    let mut it = items.into_iter();
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Ok(out)
}

fn global_name(v: &Value) -> Option<(&str, &str)> {
    match v {
        Value::Global(g) => Some((g.0.as_str(), g.1.as_str())),
        _ => None,
    }
}

fn is_numpy_module(module: &str, suffix: &str) -> bool {
    module == format!("numpy.core.{suffix}") || module == format!("numpy._core.{suffix}")
}

/// `REDUCE`: calls the globals we know the result of (NumPy's `_frombuffer`, `scalar` is not
/// needed); everything else becomes an [`Object`] for `BUILD` to fill.
fn construct(callable: Value, args: Value) -> Result<Value, String> {
    // Protocol 2 has no bytes type: `bytes` pickle as `_codecs.encode(text, "latin1")`.
    if global_name(&callable) == Some(("_codecs", "encode"))
        && let Value::Tuple(a) = &args
        && let [Value::Str(text), Value::Str(encoding)] = a.as_slice()
        && matches!(encoding.as_str(), "latin1" | "latin-1")
    {
        return Ok(Value::Bytes(Rc::new(latin1_bytes(text)?)));
    }
    if let Some((module, name)) = global_name(&callable)
        && is_numpy_module(module, "numeric")
        && name == "_frombuffer"
    {
        // Protocol 5: `_frombuffer(buffer, dtype, shape, order)`.
        let Value::Tuple(a) = &args else {
            return Err("numpy _frombuffer without arguments".into());
        };
        let [Value::Bytes(data), dtype, shape, order] = a.as_slice() else {
            return Err("numpy _frombuffer with unexpected arguments".into());
        };
        let fortran = matches!(order, Value::Str(s) if s == "F");
        let array = decode_array(data, &parse_dtype(dtype)?, &parse_shape(shape)?, fortran)?;
        return Ok(Value::Array(Rc::new(array)));
    }
    Ok(Value::Object(Rc::new(RefCell::new(Object {
        callable,
        args,
        state: None,
    }))))
}

/// After `BUILD`: an `ndarray` made by `_reconstruct` becomes an [`NdArray`].
fn finish_object(o: &Rc<RefCell<Object>>) -> Result<Value, String> {
    let obj = o.borrow();
    let is_reconstruct = global_name(&obj.callable)
        .is_some_and(|(m, n)| is_numpy_module(m, "multiarray") && n == "_reconstruct");
    if !is_reconstruct {
        return Ok(Value::Object(o.clone()));
    }
    // ndarray.__setstate__((version, shape, dtype, is_fortran, data)).
    let Some(Value::Tuple(state)) = &obj.state else {
        return Err("numpy array without state".into());
    };
    let (shape, dtype, fortran, data) = match state.as_slice() {
        [_version, shape, dtype, Value::Bool(f), data] => (shape, dtype, *f, data),
        [shape, dtype, Value::Bool(f), data] => (shape, dtype, *f, data),
        _ => return Err("numpy array state has an unexpected layout".into()),
    };
    let data = match data {
        Value::Bytes(b) => b.as_ref().clone(),
        // Python 2 pickles store the buffer as a byte string.
        Value::Str(s) => latin1_bytes(s)?,
        _ => return Err("numpy array of Python objects (not numbers)".into()),
    };
    let array = decode_array(&data, &parse_dtype(dtype)?, &parse_shape(shape)?, fortran)?;
    Ok(Value::Array(Rc::new(array)))
}

fn latin1_bytes(text: &str) -> Result<Vec<u8>, String> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).map_err(|_| "non-latin-1 byte string".to_string()))
        .collect()
}

struct Dtype {
    kind: char,
    size: usize,
    big_endian: bool,
}

fn parse_dtype(v: &Value) -> Result<Dtype, String> {
    let Value::Object(o) = v else {
        return Err("numpy dtype missing".into());
    };
    let o = o.borrow();
    let Value::Tuple(args) = &o.args else {
        return Err("numpy dtype without arguments".into());
    };
    let Some(Value::Str(code)) = args.first() else {
        return Err("numpy dtype without a type code".into());
    };
    // The state's second item is the byte order: '<', '>', '|' or '=' (native).
    let big_endian = match &o.state {
        Some(Value::Tuple(s)) => matches!(s.get(1), Some(Value::Str(b)) if b == ">"),
        _ => false,
    };
    let mut chars = code.chars();
    let kind = chars.next().ok_or("empty numpy dtype code")?;
    let size = chars
        .as_str()
        .parse()
        .map_err(|_| format!("unsupported numpy dtype {code}"))?;
    Ok(Dtype {
        kind,
        size,
        big_endian,
    })
}

fn parse_shape(v: &Value) -> Result<Vec<usize>, String> {
    let Value::Tuple(items) = v else {
        return Err("numpy shape is not a tuple".into());
    };
    items
        .iter()
        .map(|d| match d {
            Value::Int(n) => usize::try_from(*n).map_err(|_| "negative numpy dimension".into()),
            _ => Err("numpy dimension is not an integer".into()),
        })
        .collect()
}

fn decode_array(
    data: &[u8],
    dtype: &Dtype,
    shape: &[usize],
    fortran: bool,
) -> Result<NdArray, String> {
    let count: usize = shape.iter().product();
    if data.len() != count * dtype.size {
        return Err(format!(
            "numpy array data has {} bytes, shape {:?} needs {}",
            data.len(),
            shape,
            count * dtype.size
        ));
    }
    let read = |c: &[u8]| -> Result<f64, String> {
        let mut b = c.to_vec();
        if dtype.big_endian {
            b.reverse();
        }
        Ok(match (dtype.kind, dtype.size) {
            ('f', 8) => f64::from_le_bytes(b.try_into().map_err(|_| "bad f8")?),
            ('f', 4) => f32::from_le_bytes(b.try_into().map_err(|_| "bad f4")?).into(),
            ('f', 2) => half::f16::from_le_bytes(b.try_into().map_err(|_| "bad f2")?).to_f64(),
            ('i', 8) => i64::from_le_bytes(b.try_into().map_err(|_| "bad i8")?) as f64,
            ('i', 4) => i32::from_le_bytes(b.try_into().map_err(|_| "bad i4")?).into(),
            (k, s) => return Err(format!("unsupported numpy dtype {k}{s}")),
        })
    };
    let mut values = data
        .chunks_exact(dtype.size)
        .map(read)
        .collect::<Result<Vec<_>, _>>()?;
    if fortran && shape.len() > 1 {
        values = fortran_to_c(&values, shape);
    }
    Ok(NdArray {
        shape: shape.to_vec(),
        values,
    })
}

/// Reorders column-major values into row-major order.
fn fortran_to_c(values: &[f64], shape: &[usize]) -> Vec<f64> {
    let mut out = vec![0.0; values.len()];
    let mut index = vec![0usize; shape.len()];
    for (c_pos, slot) in out.iter_mut().enumerate() {
        let mut rem = c_pos;
        for d in (0..shape.len()).rev() {
            index[d] = rem % shape[d];
            rem /= shape[d];
        }
        let mut f_pos = 0;
        for d in (0..shape.len()).rev() {
            f_pos = f_pos * shape[d] + index[d];
        }
        *slot = values[f_pos];
    }
    out
}

/// Looks a string key up in a pickled dict.
pub fn dict_get(dict: &Value, key: &str) -> Option<Value> {
    let Value::Dict(d) = dict else { return None };
    d.borrow()
        .iter()
        .find(|(k, _)| matches!(k, Value::Str(s) if s == key))
        .map(|(_, v)| v.clone())
}

/// The items of a list or tuple.
pub fn sequence_items(v: &Value) -> Option<Vec<Value>> {
    match v {
        Value::List(l) => Some(l.borrow().clone()),
        Value::Tuple(t) => Some(t.as_ref().clone()),
        _ => None,
    }
}

/// A NumPy element type the writer can emit.
#[derive(Clone, Copy, Debug)]
pub enum WriteDtype {
    /// `float64` (`f8`).
    F64,
    /// `float32` (`f4`).
    F32,
}

/// Writes pickles with protocol 4 opcodes (no framing, which is optional).
pub struct PickleWriter {
    out: Vec<u8>,
}

impl Default for PickleWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl PickleWriter {
    /// Starts a pickle.
    pub fn new() -> Self {
        Self { out: vec![0x80, 4] }
    }
    /// Ends the pickle and returns its bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.out.push(b'.');
        self.out
    }
    /// `{}`.
    pub fn empty_dict(&mut self) {
        self.out.push(b'}');
    }
    /// `[]`.
    pub fn empty_list(&mut self) {
        self.out.push(b']');
    }
    /// MARK.
    pub fn mark(&mut self) {
        self.out.push(b'(');
    }
    /// APPENDS: the items since the mark go into the list below it.
    pub fn appends(&mut self) {
        self.out.push(b'e');
    }
    /// SETITEMS: the key/value pairs since the mark go into the dict below it.
    pub fn setitems(&mut self) {
        self.out.push(b'u');
    }
    /// A `str`.
    pub fn str(&mut self, s: &str) {
        if s.len() < 256 {
            self.out.push(0x8c);
            self.out.push(s.len() as u8);
        } else {
            self.out.push(b'X');
            self.out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        }
        self.out.extend_from_slice(s.as_bytes());
    }
    fn int(&mut self, v: usize) {
        if let Ok(b) = u8::try_from(v) {
            self.out.push(b'K');
            self.out.push(b);
        } else if let Ok(b) = u16::try_from(v) {
            self.out.push(b'M');
            self.out.extend_from_slice(&b.to_le_bytes());
        } else {
            // Dimensions beyond 65535 cannot come from one frame of keypoints; LONG1 covers them.
            self.out.push(0x8a);
            self.out.push(8);
            self.out.extend_from_slice(&(v as u64).to_le_bytes());
        }
    }
    fn global(&mut self, module: &str, name: &str) {
        self.out.push(b'c');
        self.out.extend_from_slice(module.as_bytes());
        self.out.push(b'\n');
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(b'\n');
    }
    /// A C-ordered NumPy array, as `ndarray.__reduce__` writes it.
    pub fn ndarray(&mut self, shape: &[usize], values: &[f64], dtype: WriteDtype) {
        self.global("numpy.core.multiarray", "_reconstruct");
        self.global("numpy", "ndarray");
        self.int(0);
        self.out.push(0x85); // TUPLE1
        self.out.push(b'C');
        self.out.push(1);
        self.out.push(b'b');
        self.out.push(0x87); // TUPLE3
        self.out.push(b'R');
        // State: (1, shape, dtype, is_fortran, data).
        self.mark();
        self.int(1);
        self.mark();
        for &d in shape {
            self.int(d);
        }
        self.out.push(b't');
        self.global("numpy", "dtype");
        let code = match dtype {
            WriteDtype::F64 => "f8",
            WriteDtype::F32 => "f4",
        };
        self.str(code);
        self.out.push(0x89); // align=False
        self.out.push(0x88); // copy=True
        self.out.push(0x87);
        self.out.push(b'R');
        self.mark();
        self.int(3);
        self.str("<");
        self.out.extend_from_slice(b"NNN");
        self.out.push(b'J');
        self.out.extend_from_slice(&(-1i32).to_le_bytes());
        self.out.push(b'J');
        self.out.extend_from_slice(&(-1i32).to_le_bytes());
        self.int(0);
        self.out.push(b't');
        self.out.push(b'b');
        self.out.push(0x89); // is_fortran=False
        let data: Vec<u8> = match dtype {
            WriteDtype::F64 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            WriteDtype::F32 => values
                .iter()
                .flat_map(|&v| (v as f32).to_le_bytes())
                .collect(),
        };
        self.out.push(b'B');
        self.out
            .extend_from_slice(&(data.len() as u32).to_le_bytes());
        self.out.extend_from_slice(&data);
        self.out.push(b't');
        self.out.push(b'b');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_array_reads_back() {
        let mut w = PickleWriter::new();
        w.empty_dict();
        w.mark();
        w.str("a");
        w.ndarray(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.5], WriteDtype::F32);
        w.setitems();
        let v = unpickle(&w.finish()).unwrap();
        let Some(Value::Array(a)) = dict_get(&v, "a") else {
            panic!("no array");
        };
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.values, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.5]);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(unpickle(b"\x80\x04\xff").is_err());
        assert!(unpickle(b"").is_err());
    }
}
