"""Hash banks as a person manages them: create a bank, add a file or a value, import and
export the exchange formats, list them. When the banks change, the library's stored
videos are matched again from their stored hashes (no decoding); when another process
holds the library then, the next `index` does it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from videolearn.apps.audit import record
from videolearn.apps.matching import MatchingHook, RematchResult, bank_file
from videolearn.errors import BankError, LibraryLockedError
from videolearn.library import Library
from videolearn.store.banks import (
    EXCHANGED_TYPES,
    BankEntry,
    BankSummary,
    check_value,
    vpdq_from_tx,
)


@dataclass(frozen=True)
class BankChange:
    """Signals added to a bank, and what matching the stored videos again found (None
    when it could not run now: `deferred` says why, and the next `index` does it)."""

    bank: str
    added: int
    rematched: RematchResult | None = None
    deferred: str | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"bank": self.bank, "added": self.added}
        if self.rematched is not None:
            out["rematched_videos"] = self.rematched.videos
            out["matches"] = self.rematched.matches
        if self.deferred is not None:
            out["rematch_deferred"] = self.deferred
        return out


def create_bank(library: Library, name: str, who: str = "", allow: bool = False) -> str:
    """Create an empty bank; with `allow`, an allow list (its matches clear a video of
    other banks' matches over the same stretch: the known-safe clip that looks like a
    banked one). Raises BankError on a bad or taken name."""
    library.store.banks.create(name, allow)
    record(library, "bank", name, {"change": "created", "allow": allow}, who)
    return name


def bank_entries(library: Library, bank: str) -> list[BankEntry]:
    """A bank's entries, switched off or not, oldest first."""
    library.store.banks.require(bank)
    return library.store.banks.entries(bank, enabled_only=False)


def switch_entry(library: Library, entry_id: int, enabled: bool, who: str = "") -> BankEntry:
    """Switch a bank entry off (kept and exported, never matched: a false positive of an
    exchanged list) or on again; the stored videos are matched again.

    Raises:
        BankError: no entry has that id.
    """
    entry = library.store.banks.set_enabled(entry_id, enabled)
    change = "switched on" if enabled else "switched off"
    record(library, "bank", entry.bank, {"change": change, "entry": entry_id}, who)
    _rematched(library, entry.bank, 0)
    return entry


def add_value(library: Library, bank: str, signal_type: str, value: str) -> BankChange:
    """Add one hash value (`md5`, `pdq`, or a `vpdq` signal string) to a bank.

    Raises:
        BankError: no such bank, or the value is not of that type.
    """
    banks = library.store.banks
    banks.require(bank)
    if signal_type not in EXCHANGED_TYPES:
        raise BankError(f"--signal must be one of {', '.join(EXCHANGED_TYPES)}")
    if signal_type == "vpdq":
        added = banks.add(bank, "vpdq", "value", frames=vpdq_from_tx(value, "the value"))
    else:
        added = banks.add(bank, signal_type, "value", check_value(signal_type, value, "value"))
    return _rematched(library, bank, int(added))


def add_file(library: Library, bank: str, path: Path) -> BankChange:
    """Hash a file and add its MD5, vPDQ and the border- and logo-robust signals.

    Raises:
        BankError: no such bank.
        MediaError: the file cannot be decoded.
    """
    added = bank_file(library.store.banks, bank, path, library.settings)
    return _rematched(library, bank, added)


def import_file(library: Library, bank: str, path: Path) -> BankChange:
    """Import a python-threatexchange signal file or one video's vPDQ text file, all or
    nothing. Raises BankError naming the first bad line."""
    added = library.store.banks.import_file(bank, path)
    return _rematched(library, bank, added)


def export_bank(library: Library, bank: str) -> list[str]:
    """The bank as python-threatexchange `<signal_type> <signal>` lines."""
    return library.store.banks.export_lines(bank)


def export_json(library: Library, bank: str) -> list[dict[str, str]]:
    """The bank's signals as the `bank export --json` lines."""
    lines = [line.partition(" ") for line in export_bank(library, bank)]
    return [{"signal_type": kind, "signal": value} for kind, _, value in lines]


def list_banks(library: Library) -> list[BankSummary]:
    """Every bank and how many signals of each type it holds."""
    return library.store.banks.summaries()


def _rematched(library: Library, bank: str, added: int) -> BankChange:
    if added:
        record(library, "bank", bank, {"change": "added", "signals": added})
    # Also when nothing was added: an earlier change may have found the library busy.
    try:
        with library.store.writing():
            result = MatchingHook(library.store, library.settings).rematch()
            # Verdicts that rest on bank matches change with them.
            from videolearn.apps.moderation import ModerationHook  # imports this module

            ModerationHook(library.store, library.settings).run_finished()
    except LibraryLockedError as err:
        return BankChange(bank, added, deferred=str(err))
    return BankChange(bank, added, result)


__all__ = [
    "BankChange",
    "add_file",
    "add_value",
    "bank_entries",
    "create_bank",
    "export_bank",
    "export_json",
    "import_file",
    "list_banks",
    "switch_entry",
]
