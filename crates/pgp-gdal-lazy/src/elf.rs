//! Just enough of ELF64 (little-endian) to read a shared object's or executable's dynamic
//! section (`DT_NEEDED`, `DT_SONAME`) and dynamic symbol table. The build script reads
//! libgdal's SONAME and exports with it, and the tests read the linked binaries' dependencies
//! with it, so neither depends on binutils' output format.

use std::io;

const SHT_DYNAMIC: u32 = 6;
const SHT_DYNSYM: u32 = 11;
const DT_NEEDED: u64 = 1;
const DT_SONAME: u64 = 14;
const STT_FUNC: u8 = 2;
const STT_GNU_IFUNC: u8 = 10;
const STB_GLOBAL: u8 = 1;
const STB_WEAK: u8 = 2;
const STV_DEFAULT: u8 = 0;

/// A dynamic symbol: its name, whether it is defined (not an import) and whether it is a
/// function exported with default visibility.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynSymbol {
    /// The symbol's name, without version.
    pub name: String,
    /// Defined in this file (an export), not imported from another.
    pub defined: bool,
    /// A global or weak function (or indirect function) of default visibility.
    pub function: bool,
}

/// What an ELF file's dynamic section and dynamic symbol table hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DynamicInfo {
    /// `DT_SONAME`, for a shared object that has one.
    pub soname: Option<String>,
    /// `DT_NEEDED`: the libraries the dynamic loader loads with this file, in order.
    pub needed: Vec<String>,
    /// The dynamic symbol table (`.dynsym`), imports and exports.
    pub symbols: Vec<DynSymbol>,
}

fn bad(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("not a readable ELF64 file: {what}"),
    )
}

fn bytes(data: &[u8], at: u64, len: u64) -> io::Result<&[u8]> {
    let start = usize::try_from(at).map_err(|_| bad("offset"))?;
    let len = usize::try_from(len).map_err(|_| bad("length"))?;
    start
        .checked_add(len)
        .and_then(|end| data.get(start..end))
        .ok_or_else(|| bad("truncated"))
}

fn u16_at(data: &[u8], at: u64) -> io::Result<u16> {
    let b = bytes(data, at, 2)?;
    Ok(u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(data: &[u8], at: u64) -> io::Result<u32> {
    let b = bytes(data, at, 4)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn u64_at(data: &[u8], at: u64) -> io::Result<u64> {
    let b = bytes(data, at, 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Ok(u64::from_le_bytes(a))
}

/// The NUL-terminated string at `offset` of a string table.
fn string_at(table: &[u8], offset: u64) -> io::Result<String> {
    let start = usize::try_from(offset).map_err(|_| bad("string offset"))?;
    let rest = table.get(start..).ok_or_else(|| bad("string offset"))?;
    let end = rest
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| bad("unterminated string"))?;
    Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
}

struct Section {
    kind: u32,
    offset: u64,
    size: u64,
    link: u32,
    entsize: u64,
}

/// Read the dynamic section and dynamic symbols of the ELF64 little-endian file `data`
/// (through its section headers, which `strip` keeps).
pub fn read_dynamic(data: &[u8]) -> io::Result<DynamicInfo> {
    if data.get(..4) != Some(b"\x7fELF".as_slice()) {
        return Err(bad("no ELF magic"));
    }
    if data.get(4) != Some(&2) || data.get(5) != Some(&1) {
        return Err(bad("not 64-bit little-endian"));
    }
    let shoff = u64_at(data, 0x28)?;
    let shentsize = u64::from(u16_at(data, 0x3A)?);
    let shnum = u64::from(u16_at(data, 0x3C)?);
    let mut sections = Vec::new();
    for i in 0..shnum {
        let at = shoff + i * shentsize;
        sections.push(Section {
            kind: u32_at(data, at + 4)?,
            offset: u64_at(data, at + 24)?,
            size: u64_at(data, at + 32)?,
            link: u32_at(data, at + 40)?,
            entsize: u64_at(data, at + 56)?,
        });
    }
    let linked_strings = |s: &Section| -> io::Result<&[u8]> {
        let table = sections
            .get(s.link as usize)
            .ok_or_else(|| bad("string table index"))?;
        bytes(data, table.offset, table.size)
    };
    let mut info = DynamicInfo::default();
    for s in &sections {
        match s.kind {
            SHT_DYNAMIC => {
                let strings = linked_strings(s)?;
                let entsize = if s.entsize == 0 { 16 } else { s.entsize };
                for i in 0..s.size / entsize {
                    let tag = u64_at(data, s.offset + i * entsize)?;
                    let value = u64_at(data, s.offset + i * entsize + 8)?;
                    match tag {
                        0 => break,
                        DT_NEEDED => info.needed.push(string_at(strings, value)?),
                        DT_SONAME => info.soname = Some(string_at(strings, value)?),
                        _ => {}
                    }
                }
            }
            SHT_DYNSYM => {
                let strings = linked_strings(s)?;
                let entsize = if s.entsize == 0 { 24 } else { s.entsize };
                // Entry 0 is the reserved null symbol.
                for i in 1..s.size / entsize {
                    let at = s.offset + i * entsize;
                    let name = string_at(strings, u64::from(u32_at(data, at)?))?;
                    let st_info = bytes(data, at + 4, 1)?[0];
                    let st_other = bytes(data, at + 5, 1)?[0];
                    let shndx = u16_at(data, at + 6)?;
                    let kind = st_info & 0xf;
                    let bind = st_info >> 4;
                    info.symbols.push(DynSymbol {
                        name,
                        defined: shndx != 0,
                        function: (kind == STT_FUNC || kind == STT_GNU_IFUNC)
                            && (bind == STB_GLOBAL || bind == STB_WEAK)
                            && st_other & 3 == STV_DEFAULT,
                    });
                }
            }
            _ => {}
        }
    }
    Ok(info)
}
