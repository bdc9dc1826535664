"""A library of real recorded sources, built from Debian packages by one command, cached, reproducible.

    lass library build --out sources/real [--package sound-theme-freedesktop ...] [--seed 0]

Each package in :data:`CATALOGUE` names which of its files are which sound class, with several
captions per class. A package that is installed is read where it is; otherwise its ``.deb`` is
fetched with ``apt-get download`` into the cache and unpacked there (no root, nothing installed).
Every kept file is decoded, mixed to mono, resampled to 32 kHz, trimmed of leading and trailing
silence and written as FLAC under ``OUT/<package>/``. ``OUT/manifest.jsonl`` lists each file with its
package and version, its licenses (as the package's copyright file states them; the file itself is
copied to ``OUT/licenses/``), class, captions, original path, SHA-256 and length, and the split
(:func:`assign_splits`): ``train``, ``heldout`` (files held out of the packages that train) or
``heldout-source`` (the packages of :data:`HELDOUT_SOURCES`, held out whole: the leave-source-out
evaluation, a sound recorded somewhere no training file comes from). ``--keep-splits`` pins the split of
every file an earlier manifest lists, so a grown library never moves a file a model trained on into a
held-out split. ``OUT/captions.csv`` serves ``--data``/``--captions``.

Packages reserved for independent evaluation are refused by name and never read.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audio.files import AudioFileError, read_mono, write_audio
from audio.places import write_atomically
from models.config import MODEL_SAMPLE_RATE_HZ
from models.errors import UserError
from training.config import HELDOUT_SOURCE_SPLIT
from training.midi import melody, standard_midi_file
from training.qt_resources import bundle_files

RESERVED_PACKAGES = ("sonic-pi-samples", "alsa-utils")
RESERVED_PREFIXES = ("asterisk-core-sounds-en",)
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus")
MIN_SECONDS = 0.2
SILENCE_DBFS = -50.0  # trimmed from both ends
HELDOUT_SHARE = 0.2
# Packages held out whole, for the leave-source-out evaluation: no checkpoint in the bundled models'
# history has trained on them (they joined the catalogue after), and each brings classes the others
# train: recorded instrument and drum samples (lmms-common), phone ringtones, notifications and a
# shutter of another phone system (lomiri-sounds), and short instrument notes (sound-icons).
HELDOUT_SOURCES = ("lmms-common", "lomiri-sounds", "sound-icons")
MANIFEST = "manifest.jsonl"
CAPTIONS_CSV = "captions.csv"
Say = Callable[[str], None]  # where a long build's progress lines go (the command line prints them)

# Captions per class: several phrasings, as the generated sources have. A class the generated sources
# also have takes their label ("speech", "bells"), so both train one class. Labelled "bell", the
# library's one bell file came with the generated bells falling from 9.3 to -15.7 dB SI-SDRi after a
# fine-tune on both: its captions, as a separate class, likely drew the bells' paraphrases away.
CAPTIONS = {
    "speech": ("speech", "a person speaking", "a voice saying a few words", "someone talking", "a spoken announcement"),
    "phone ringing": ("a phone ringing", "a telephone ring", "a ringtone", "an incoming call ringing", "a phone tone"),
    "notification chime": ("a notification chime", "a short chime", "a computer alert sound", "a message tone", "a soft ding"),
    "bells": ("a bell", "a ringing bell", "a bell ringing out", "the sound of a bell", "a struck bell"),
    "camera shutter": ("a camera shutter", "a shutter click", "a photo being taken", "the click of a camera", "a snapshot sound"),
    "music": ("music", "a piece of music", "background music", "hold music", "a song playing"),
    "kick drum": ("a kick drum", "a bass drum", "a thumping kick", "a low drum hit", "the kick of a drum kit"),
    "snare drum": ("a snare drum", "a snare hit", "a sharp drum crack", "a rimshot", "the snare of a drum kit"),
    "hi-hat": ("a hi-hat", "hi-hat cymbals", "a closed hat tick", "a crisp hi-hat", "the hi-hat of a drum kit"),
    "cymbal": ("a cymbal crash", "a crash cymbal", "a ride cymbal", "a cymbal ringing", "a splashing cymbal"),
    "tom drum": ("a tom drum", "a tom-tom", "a floor tom", "a rack tom hit", "a pitched drum hit"),
    "piano": ("a piano", "piano playing", "someone playing the piano", "a piano melody", "the keys of a piano"),
    "guitar": ("a guitar", "guitar playing", "an acoustic guitar", "a guitar melody", "an electric guitar"),
    "strings": ("violins", "a string section", "a violin playing", "a cello", "bowed strings"),
    "brass": ("a trumpet", "brass instruments", "a horn section", "a trombone", "brass playing a tune"),
    "flute": ("a flute", "a flute melody", "a woodwind playing", "a piccolo", "a recorder"),
    "organ": ("an organ", "a church organ", "organ chords", "an electric organ", "an organ playing"),
}


@dataclass(frozen=True)
class Rule:
    """Files whose path inside the package matches ``pattern`` (a regex, searched) are ``label``."""

    pattern: str
    label: str


@dataclass(frozen=True)
class PackageSources:
    """A package's recordings: the first rule that matches a file decides its class; unmatched files
    are left out. ``licenses`` is what its copyright file states (checked by hand, and checked again
    against the file when the library is built)."""

    package: str
    licenses: tuple[str, ...]
    rules: tuple[Rule, ...]

    def audio_files(self, root: Path, scratch: Path) -> list[tuple[str, Path]]:
        """The package's audio files, sorted: (its path inside the package, where to read it)."""
        listing = subprocess.run(["dpkg-query", "-L", self.package], capture_output=True, text=True)
        files = [root / line.lstrip("/") for line in listing.stdout.splitlines()] if root == Path("/") else sorted(root.rglob("*"))
        return [("/" + str(p.relative_to(root)), p) for p in sorted(files) if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()]

    def collect(self, root: Path, out: Path, seed: int, say: Say) -> list[dict]:
        """Write the package's sources under ``out/<package>/``; rows of file, label, source, sha256, seconds."""
        rows = []
        with tempfile.TemporaryDirectory() as scratch:
            for inside, path in self.audio_files(root, Path(scratch)):
                label = next((rule.label for rule in self.rules if re.search(rule.pattern, inside)), None)
                if label is None:
                    continue
                try:
                    audio = trimmed_mono(path)
                except AudioFileError as error:
                    say(f"skipped {inside}: {error}")
                    continue
                row = _write_source(out, self.package, path.stem, audio, hashlib.sha256(path.read_bytes()).hexdigest())
                if row is not None:
                    rows.append(row | {"label": label, "source": inside})
        return rows


@dataclass(frozen=True)
class ResourceBundleSources(PackageSources):
    """Recordings packed in Qt resource bundles (``bundles``: ``.rcc`` paths inside the package). A
    file's path inside the package, which the rules match, is the bundle's path, a colon, and the
    file's path inside the bundle."""

    bundles: tuple[str, ...] = ()

    def audio_files(self, root: Path, scratch: Path) -> list[tuple[str, Path]]:
        """Each bundle's audio files, unpacked into ``scratch``."""
        found = []
        for bundle in self.bundles:
            for name, data in sorted(bundle_files(root / bundle.lstrip("/")).items()):
                if Path(name).suffix.lower() in AUDIO_SUFFIXES:
                    unpacked = scratch / bundle.lstrip("/") / name.lstrip("/")
                    unpacked.parent.mkdir(parents=True, exist_ok=True)
                    unpacked.write_bytes(data)
                    found.append((f"{bundle}:{name}", unpacked))
        return found


@dataclass(frozen=True)
class Instrument:
    """A sound class played on General MIDI ``programs`` within MIDI notes ``low..high``."""

    label: str
    programs: tuple[int, ...]
    low: int
    high: int


@dataclass(frozen=True)
class SoundfontSources:
    """Sampled instruments: seeded melodies rendered through a package's soundfont by fluidsynth, with
    reverb and chorus off (room and effects belong to the mixing, not to the source)."""

    package: str
    licenses: tuple[str, ...]
    soundfont: str  # path inside the package
    instruments: tuple[Instrument, ...]
    melodies_per_program: int = 8
    melody_beats: float = 12.0  # 6 s at 120 beats per minute
    synth: str = "fluidsynth"

    def instrument_file(self, root: Path, scratch: Path) -> Path:
        """The file the synthesiser reads the instruments from (once per build): the soundfont."""
        return root / self.soundfont.lstrip("/")

    def render_command(self, synth: str, instruments: Path, midi: Path, wav: Path) -> list[str]:
        """The command line that plays ``midi`` into ``wav`` at the model's rate."""
        command = [synth, "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.5", "-r", str(MODEL_SAMPLE_RATE_HZ)]
        return command + ["-F", str(wav), str(instruments), str(midi)]

    def programs(self, root: Path) -> set[int] | None:
        """The General MIDI programs the set holds (None: all of them)."""
        return None

    def collect(self, root: Path, out: Path, seed: int, say: Say) -> list[dict]:
        synth = shutil.which(self.synth)
        if synth is None:
            raise LibraryError(f"{self.package} is played with {self.synth}, which is not installed: apt-get install {self.synth}")
        held = self.programs(root)
        rows = []
        with tempfile.TemporaryDirectory() as scratch:
            instruments = self.instrument_file(root, Path(scratch))
            for instrument in self.instruments:
                for program in instrument.programs:
                    if held is not None and program not in held:
                        say(f"skipped {instrument.label} on program {program}: {self.package} has no such instrument")
                        continue
                    for index in range(self.melodies_per_program):
                        rng = np.random.default_rng([seed, program, index])
                        notes = melody(rng, instrument.low, instrument.high, self.melody_beats)
                        midi, wav = Path(scratch) / "melody.mid", Path(scratch) / "melody.wav"
                        midi.write_bytes(standard_midi_file(notes, program))
                        subprocess.run(self.render_command(synth, instruments, midi, wav), check=True, capture_output=True)
                        audio = trimmed_mono(wav)
                        name = f"{instrument.label.replace(' ', '-')}-program{program}-{index}"
                        row = _write_source(out, self.package, name, audio, hashlib.sha256(audio.tobytes()).hexdigest())
                        if row is not None:
                            source = f"{self.soundfont}, General MIDI program {program}, melody {index} of seed {seed}"
                            rows.append(row | {"label": instrument.label, "source": source})
        return rows


@dataclass(frozen=True)
class PatchSetSources(SoundfontSources):
    """Sampled instruments in Gravis patches, played by timidity with reverb and chorus off:
    ``soundfont`` is the set's timidity configuration inside the package, ``patch_folder`` the folder
    its patch paths are relative to. A program the set's melodic bank lacks is left out
    (:meth:`programs`)."""

    synth: str = "timidity"
    patch_folder: str = ""

    def programs(self, root: Path) -> set[int]:
        """The programs of the configuration's melodic bank 0; timidity would play another instrument
        for any other, under this one's label."""
        held, in_bank = set(), False
        for line in (root / self.soundfont.lstrip("/")).read_text(errors="replace").splitlines():
            words = line.split()
            if words[:1] in (["bank"], ["drumset"]):
                in_bank = words == ["bank", "0"]
            elif in_bank and len(words) >= 2 and words[0].isdigit() and words[1].endswith(".pat"):
                held.add(int(words[0]))
        return held

    def instrument_file(self, root: Path, scratch: Path) -> Path:
        """A configuration in ``scratch`` that reads the set's own, its patches found where they were unpacked."""
        config = scratch / "patches.cfg"
        config.write_text(f"dir {root / self.patch_folder.lstrip('/')}\nsource {root / self.soundfont.lstrip('/')}\n")
        return config

    def render_command(self, synth: str, instruments: Path, midi: Path, wav: Path) -> list[str]:
        effects_off = ["-EFreverb=d", "-EFchorus=d"]
        return [synth, "-c", str(instruments), "-OwM", "-s", str(MODEL_SAMPLE_RATE_HZ), *effects_off, "-o", str(wav), str(midi)]


# General MIDI instruments, played the same way on every soundfont: a class is then the instrument,
# and a second soundfont is a second source of it.
GM_INSTRUMENTS = (
    Instrument("piano", (0, 1, 4), 48, 84),
    Instrument("guitar", (24, 25, 27), 40, 76),
    Instrument("strings", (40, 42, 48), 43, 84),
    Instrument("brass", (56, 57, 61), 46, 77),
    Instrument("flute", (72, 73, 74), 60, 96),
    Instrument("organ", (16, 19), 36, 84),
    Instrument("bells", (9, 14, 112), 60, 88),  # glockenspiel, tubular bells, tinkle bell
)

# The Asterisk prompt folders hold tones beside the speech: a beep, an error beep, two-tone rises and
# falls, and the conference join and leave tones. Labelled speech, they taught the bundled models that
# a short beep in a voice is part of the voice (#34: "beeps" kept 1 % of a mixture of speech and beeps
# of 60 ms, "speech" 95 %). They are not trained as beeps either: the reserved English package
# plays the same tones.
ASTERISK_TONES = ("beep", "beeperr", "ascending-2tone", "descending-2tone", "confbridge-join", "confbridge-leave")


def spoken_prompts(folder: str) -> str:
    """The pattern of an Asterisk language folder's prompts (its top level), less :data:`ASTERISK_TONES`."""
    tones = "|".join(re.escape(name) for name in ASTERISK_TONES)
    return rf"/sounds/{re.escape(folder)}/(?!(?:{tones})\.wav$)[^/]+\.wav$"


CATALOGUE = (
    PackageSources(
        "sound-theme-freedesktop", ("GPL-2+", "CC-BY-3.0", "CC-BY-SA-3.0"),
        (
            Rule(r"/audio-channel-[a-z-]+\.oga$", "speech"),
            Rule(r"/phone-(incoming-call|outgoing-calling)\.oga$", "phone ringing"),
            Rule(r"/(camera-shutter|screen-capture)\.oga$", "camera shutter"),
            Rule(r"/(bell|alarm-clock-elapsed)\.oga$", "bells"),
            Rule(r"/(message|message-new-instant|complete|dialog-information|device-added|window-attention)\.oga$", "notification chime"),
        ),
    ),
    PackageSources(
        "oxygen-sounds", ("LGPL-3.0-or-later",),
        (
            Rule(r"/Oxygen-Im-Phone-Ring\.ogg$", "phone ringing"),
            Rule(r"/Oxygen-(Im-(Message-In|New-Mail|Sms|Highlight-Msg)|Sys-App-(Message|Positive))\.ogg$", "notification chime"),
        ),
    ),
    PackageSources(
        "gnome-audio", ("CC-BY-SA-2.0", "CC-BY-3.0"),
        (Rule(r"/sounds/phone\.wav$", "phone ringing"), Rule(r"/sounds/(email|info)\.wav$", "notification chime")),
    ),
    # More desktop and messenger themes: the chime class had ten files, too few to tell a chime from a
    # tonal instrument. Start-up jingles, error buzzes and crumpling noises are left out.
    PackageSources(
        "yaru-theme-sound", ("CC-BY-SA-4.0",),
        (
            Rule(r"/Yaru/stereo/bell\.oga$", "bells"),
            Rule(r"/Yaru/stereo/(complete|device-(added|removed)|dialog-(question|warning)|message(-new-(email|instant))?|power-(plug|unplug)|battery-low)\.oga$", "notification chime"),
        ),
    ),
    PackageSources(
        "deepin-sound-theme", ("GPL-3",),
        (
            Rule(r"/deepin/stereo/(camera-shutter|screen-capture)\.wav$", "camera shutter"),
            Rule(r"/deepin/stereo/(complete-(copy|print)|device-removed|message|power-(plug|unplug)|screen-capture-complete|suspend-resume|x-deepin-app-sent-to-desktop)\.wav$", "notification chime"),
        ),
    ),
    PackageSources("pidgin-data", ("GPL-2+",), (Rule(r"/sounds/purple/(alert|login|logout|receive|send)\.wav$", "notification chime"),)),
    PackageSources(
        "psi-plus-sounds", ("GPL-2+",),
        (Rule(r"/psi-plus/sound/(attention|chat[12]|email|ft_(complete|incoming)|online|offline|pepnotify|reminder|send|watcher)\.wav$", "notification chime"),),
    ),
    PackageSources(
        "gajim", ("GPL-3",),
        (
            Rule(r"/gajim/data/sounds/call_(incoming|outgoing)\.wav$", "phone ringing"),
            Rule(r"/gajim/data/sounds/(attention|connected|disconnected|(gc_)?message[12]|sent)\.wav$", "notification chime"),
        ),
    ),
    PackageSources(
        "linphone-common", ("GPL-3+",),
        (
            Rule(r"/linphone/(rings/oldphone-mono|toy-mono|ringback)\.wav$", "phone ringing"),
            Rule(r"/linphone/incoming_chat\.wav$", "notification chime"),
        ),
    ),
    PackageSources("twinkle-common", ("GPL-2+",), (Rule(r"/twinkle/ring(tone|back)\.wav$", "phone ringing"),)),
    PackageSources("asterisk-moh-opsound-wav", ("CC-BY-SA-3.0",), (Rule(r"/moh/[^/]+\.wav$", "music"),)),
    # Telephone prompts read by three speakers (8 kHz recordings): only the whole sentences, not the
    # digits, letters or silences, nor the tones among them (spoken_prompts). asterisk-core-sounds-es
    # is left out on purpose: its speaker also reads the English prompts, which are reserved for
    # independent evaluation.
    PackageSources("asterisk-core-sounds-fr-wav", ("CC-BY-SA-3.0",), (Rule(spoken_prompts("fr_CA_f_June"), "speech"),)),
    PackageSources("asterisk-core-sounds-it-wav", ("CC-BY-3.0",), (Rule(spoken_prompts("it_IT_m_Carlo"), "speech"),)),
    PackageSources("asterisk-core-sounds-ru-wav", ("CC-BY-3.0",), (Rule(spoken_prompts("ru_RU_f_IvrvoiceRU"), "speech"),)),
    SoundfontSources(
        "fluid-soundfont-gm", ("MIT",), "/usr/share/sounds/sf2/FluidR3_GM.sf2", GM_INSTRUMENTS
    ),
    # A second soundfont, sampled apart from Fluid R3: the instruments of a second maker (#34: a model
    # trained on one soundfont kept its piano and lost everyone else's). musescore-general-soundfont is
    # left out because it is built from Fluid R3.
    SoundfontSources("timgm6mb-soundfont", ("GPL-2",), "/usr/share/sounds/sf2/TimGM6mb.sf2", GM_INSTRUMENTS),
    # Recorded instrument samples of a third maker, as Gravis patches.
    PatchSetSources(
        "freepats", ("GPL-2+",), "/etc/timidity/freepats.cfg", GM_INSTRUMENTS, patch_folder="/usr/share/midi/freepats"
    ),
    PackageSources("eiskaltdcpp-sounds", ("GPL-3+",), (Rule(r"/eiskaltdcpp/sounds/[^/]+\.wav$", "notification chime"),)),
    # Recorded instruments and musical ringtones (#34): the held-out brass, guitars and ringtones are
    # recordings, while every instrument above is a seeded melody rendered from samples, and every
    # ring a classic telephone's.
    PackageSources("jami-daemon", ("GPL-3+",), (Rule(r"/jami/ringtones/[^/]+\.opus$", "phone ringing"),)),
    PackageSources("baresip-core", ("BSD-3-clause",), (Rule(r"/baresip/ring(back)?\.wav$", "phone ringing"),)),
    # GCompris' instruments activity: one recorded phrase per instrument. Instruments no class names
    # (banjo, harp, clarinet, saxophone, accordion, harmonica, percussion but two) are left out.
    ResourceBundleSources(
        "gcompris-qt-data", ("GPL-3+",),
        (
            Rule(r"/instruments/resource/(trumpet|horn|trombone|tuba)\.ogg$", "brass"),
            Rule(r"/(instruments/resource/(electric_)?guitar|memory-sound/resource/guitar_(melody|son[0-9]))\.ogg$", "guitar"),
            Rule(r"/instruments/resource/piano\.ogg$", "piano"),
            Rule(r"/instruments/resource/organ\.ogg$", "organ"),
            Rule(r"/instruments/resource/(violin|cello)\.ogg$", "strings"),
            Rule(r"/instruments/resource/flute_traversiere\.ogg$", "flute"),
            Rule(r"/instruments/resource/cymbal\.ogg$", "cymbal"),
            Rule(r"/instruments/resource/snare_drum\.ogg$", "snare drum"),
        ),
        bundles=("/usr/share/gcompris-qt/rcc/instruments.rcc", "/usr/share/gcompris-qt/rcc/memory-sound.rcc"),
    ),
    # Tux Paint's music stamps play their instrument (the *_desc files are spoken descriptions).
    PackageSources(
        "tuxpaint-stamps-default", ("GPL-2",),
        (
            Rule(r"/stamps/hobbies/music/string/(cello|violin)\.ogg$", "strings"),
            Rule(r"/stamps/hobbies/music/percussion/cymbal_crash\.ogg$", "cymbal"),
            Rule(r"/stamps/hobbies/music/percussion/drum_tomtom_floor\.ogg$", "tom drum"),
        ),
    ),
    # Held out whole (HELDOUT_SOURCES). Samples named for what they are; loops, basses, pads, synth
    # shapes and effects are left out.
    PackageSources(
        "lmms-common", ("GPL-2+",),
        (
            Rule(r"/samples/drums/(bassdrum|kick)[^/]*\.ogg$", "kick drum"),
            Rule(r"/samples/drums/(snare|nasty_snare|rim|sidestick)[^/]*\.ogg$", "snare drum"),
            Rule(r"/samples/drums/hihat[^/]*\.ogg$", "hi-hat"),
            Rule(r"/samples/drums/(crash|ride)[^/]*\.ogg$", "cymbal"),
            Rule(r"/samples/drums/tom[^/]*\.ogg$", "tom drum"),
            Rule(r"/samples/instruments/(e_)?piano[^/]*\.ogg$", "piano"),
            Rule(r"/samples/(instruments/steel_guitar|latin/latin_guitar)[^/]*\.ogg$", "guitar"),
            Rule(r"/samples/(instruments/(cello|violin)|stringsnpads/strings)[^/]*\.ogg$", "strings"),
            Rule(r"/samples/(instruments/trumpet|latin/latin_brass)[^/]*\.ogg$", "brass"),
            Rule(r"/samples/instruments/flute[^/]*\.ogg$", "flute"),
            Rule(r"/samples/instruments/(church_organ|e_organ)[^/]*\.ogg$", "organ"),
        ),
    ),
    PackageSources(
        "lomiri-sounds", ("CC-BY-3.0", "CC-BY-4.0", "CC-BY-SA-3.0", "CC0-1.0"),
        (
            Rule(r"/lomiri/ringtones/Wind chime\.ogg$", "bells"),  # lmms-common's wind chimes are unreadable
            Rule(r"/lomiri/ringtones/[^/]+\.ogg$", "phone ringing"),
            Rule(r"/lomiri/notifications/[^/]+\.ogg$", "notification chime"),
            Rule(r"/lomiri/camera/click/[^/]+\.ogg$", "camera shutter"),
        ),
    ),
    PackageSources(
        "sound-icons", ("GPL-2+",),
        (
            Rule(r"/sound-icons/(electric-)?piano-[0-9]+\.wav$", "piano"),
            Rule(r"/sound-icons/guitar-[0-9]+\.wav$", "guitar"),
            Rule(r"/sound-icons/trumpet-[0-9]+\.wav$", "brass"),
            Rule(r"/sound-icons/violoncello-[0-9]+\.wav$", "strings"),
        ),
    ),
    PackageSources(
        "hydrogen-drumkits", ("GPL-2", "GPL-2+", "CC0", "CC-BY-3.0", "CC-BY-SA-3.0"),
        (
            # Words in the file name, not inside other words ("stomachache" is no tom).
            Rule(r"(?i)/[^/]*(?<![a-z])(kick|bassdrum|bass-drum)(?![a-z])[^/]*$", "kick drum"),
            Rule(r"(?i)/[^/]*(?<![a-z])(snare|rimshot)(?![a-z])[^/]*$", "snare drum"),
            Rule(r"(?i)/[^/]*(?<![a-z])(hihat|hi-hat|hhat|hat)(?![a-z])[^/]*$", "hi-hat"),
            Rule(r"(?i)/[^/]*(?<![a-z])(crash|ride|cymbal|splash|china)(?![a-z])[^/]*$", "cymbal"),
            Rule(r"(?i)/[^/]*(?<![a-z])tom(?![a-z])[^/]*$", "tom drum"),
        ),
    ),
)


class LibraryError(UserError):
    """A library cannot be built or read: the message says which package or file, and what to do."""


def check_not_reserved(package: str) -> None:
    if package in RESERVED_PACKAGES or package.startswith(RESERVED_PREFIXES):
        raise LibraryError(f"{package} is reserved for independent evaluation: it is never read for training")


def catalogue_entry(package: str) -> PackageSources | SoundfontSources:
    check_not_reserved(package)
    for entry in CATALOGUE:
        if entry.package == package:
            return entry
    known = ", ".join(entry.package for entry in CATALOGUE)
    raise LibraryError(f"{package} is not in the source catalogue (training/source_library.py); known: {known}")


def package_root(package: str, cache: Path) -> tuple[Path, str]:
    """Where the package's files are (``/`` when installed, else its unpacked ``.deb`` in ``cache``) and
    its version."""
    installed = subprocess.run(["dpkg-query", "-W", "-f=${Status}|${Version}", package], capture_output=True, text=True)
    status, _, version = installed.stdout.partition("|")
    if installed.returncode == 0 and status.endswith(" installed"):
        return Path("/"), version
    unpacked = cache / package
    stamp = unpacked / ".version"
    if not stamp.is_file():
        fetch = cache / "debs" / package
        fetch.mkdir(parents=True, exist_ok=True)
        download = subprocess.run(["apt-get", "download", package], cwd=fetch, capture_output=True, text=True)
        debs = sorted(fetch.glob(f"{package}_*.deb"))
        if download.returncode != 0 or not debs:
            raise LibraryError(f"could not fetch {package} (apt-get download: {download.stderr.strip()}); run 'apt-get update' first")
        shutil.rmtree(unpacked, ignore_errors=True)
        subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(unpacked)], check=True)
        version = subprocess.run(["dpkg-deb", "-f", str(debs[-1]), "Version"], capture_output=True, text=True, check=True)
        stamp.write_text(version.stdout.strip())
    return unpacked, stamp.read_text()


def copyright_licenses(copyright_text: str) -> set[str]:
    """The license names a copyright file states: DEP-5 ``License:`` fields, else Creative Commons,
    MIT and GPL phrases (e.g. "Creative Commons Attribution-ShareAlike 3.0" -> ``CC-BY-SA-3.0``)."""
    names = {line.split(":", 1)[1].strip().split()[0] for line in copyright_text.splitlines() if line.startswith("License:") and line.split(":", 1)[1].strip()}
    for kind, version in re.findall(r"Creative Commons Attribution-?(ShareAlike)?\s+(\d\.\d)", copyright_text):
        names.add(f"CC-BY{'-SA' if kind else ''}-{version}")
    if re.search(r"\bunder the MIT license\b", copyright_text, re.IGNORECASE):
        names.add("MIT")
    gpl = r"GNU General Public License\s+as\s+published\s+by\s+the\s+Free\s+Software\s+Foundation;\s+either\s+version\s+(\d)"
    for version in re.findall(gpl + r"\s+of\s+the\s+License,\s+or\s+\(at\s+your\s+option\)\s+any\s+later\s+version", copyright_text):
        names.add(f"GPL-{version}+")
    return {re.sub(r"^https?://creativecommons.org/licenses/([a-z-]+)/(\d\.\d).*$", lambda m: f"CC-{m[1].upper()}-{m[2]}", n) for n in names}


def assign_splits(rows: list[dict], seed: int, kept: dict[str, str] | None = None) -> None:
    """Set each row's ``split``. A file that ``kept`` (SHA-256 -> split) lists keeps its split; a file of
    a package in :data:`HELDOUT_SOURCES` is ``heldout-source``; of the others, per class, about
    ``HELDOUT_SHARE`` (at least one where a class has two or more) are ``heldout``, chosen by a seeded
    hash of their content, so a rerun with the same seed splits the same way and no class is only in
    one split by chance."""
    kept = kept or {}
    by_label: dict[str, list[dict]] = {}
    for row in rows:
        if row["sha256"] in kept:
            row["split"] = kept[row["sha256"]]
        elif row["package"] in HELDOUT_SOURCES:
            row["split"] = HELDOUT_SOURCE_SPLIT
        else:
            by_label.setdefault(row["label"], []).append(row)
    for members in by_label.values():
        members.sort(key=lambda row: hashlib.sha256(f"{seed}:{row['sha256']}".encode()).hexdigest())
        heldout = max(1, round(HELDOUT_SHARE * len(members))) if len(members) >= 2 else 0
        for index, row in enumerate(members):
            row["split"] = "heldout" if index < heldout else "train"


def trimmed_mono(path: Path) -> np.ndarray:
    """The file as mono float32 at 32 kHz, without leading and trailing silence."""
    mono = read_mono(path, MODEL_SAMPLE_RATE_HZ)
    loud = np.flatnonzero(np.abs(mono) > 10 ** (SILENCE_DBFS / 20))
    return mono[loud[0] : loud[-1] + 1] if len(loud) else mono[:0]


def build_library(
    out: Path, packages: list[str], cache: Path, seed: int = 0, say: Say = lambda line: None, keep_splits: Path | None = None
) -> Path:
    """Build (or rebuild) the library in ``out`` from ``packages``; returns the manifest's path. With
    ``keep_splits`` (an earlier library's folder), every file its manifest lists keeps its split there."""
    entries = [catalogue_entry(package) for package in packages]  # refuse reserved or unknown first
    kept = {row["sha256"]: row["split"] for row in read_manifest(keep_splits)} if keep_splits else None
    rows: list[dict] = []
    seen: dict[str, str] = {}  # sha256 -> package:source of its first copy
    for entry in entries:
        root, version = package_root(entry.package, cache)
        copyright_file = root / "usr/share/doc" / entry.package / "copyright"
        if not copyright_file.is_file():
            raise LibraryError(f"{entry.package} has no copyright file at {copyright_file}: its license cannot be checked")
        stated = copyright_licenses(copyright_file.read_text(errors="replace"))
        if not set(entry.licenses) <= stated:
            raise LibraryError(f"{entry.package}: the catalogue says {entry.licenses}, its copyright file states {sorted(stated)}")
        (out / "licenses").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(copyright_file, out / "licenses" / f"{entry.package}.copyright")
        package_rows = []
        for row in entry.collect(root, out, seed, say):
            if row["sha256"] in seen:  # messengers share sound files: one copy, or it could sit in both splits
                say(f"skipped {entry.package}:{row['source']}: the same file as {seen[row['sha256']]}")
                (out / row["file"]).unlink()
                continue
            seen[row["sha256"]] = f"{entry.package}:{row['source']}"
            package_rows.append(row)
        common = {"package": entry.package, "version": version, "licenses": list(entry.licenses)}
        common["copyright"] = f"licenses/{entry.package}.copyright"
        rows += [common | row | {"captions": list(CAPTIONS[row["label"]])} for row in package_rows]
        say(f"{entry.package} {version}: {len(package_rows)} files")
    assign_splits(rows, seed, kept)
    manifest = out / MANIFEST
    write_atomically(manifest, "".join(json.dumps(row) + "\n" for row in rows).encode())
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["file", "caption"])
    writer.writerows((row["file"], caption) for row in rows for caption in row["captions"])
    write_atomically(out / CAPTIONS_CSV, table.getvalue().encode())
    return manifest


def read_manifest(library: Path) -> list[dict]:
    """The rows of a library's manifest, one per file, as :func:`build_library` wrote them."""
    manifest = Path(library) / MANIFEST
    if not manifest.is_file():
        raise FileNotFoundError(f"no library at {library} ({manifest} is missing): build one with 'lass library build'")
    return [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]


def _write_source(out: Path, package: str, name: str, audio: np.ndarray, sha256: str) -> dict | None:
    """Write one source as ``out/<package>/<hash>-<name>.flac`` (None when shorter than ``MIN_SECONDS``)."""
    if len(audio) < MIN_SECONDS * MODEL_SAMPLE_RATE_HZ:
        return None
    relative = f"{package}/{sha256[:12]}-{name}.flac"
    (out / package).mkdir(parents=True, exist_ok=True)
    write_audio(out / relative, audio[None], MODEL_SAMPLE_RATE_HZ, "PCM_24")
    return {"file": relative, "sha256": sha256, "seconds": round(len(audio) / MODEL_SAMPLE_RATE_HZ, 3)}


def run(args: argparse.Namespace, say: Say) -> Path:
    """``lass library build``: the manifest written; progress goes to ``say``."""
    packages = args.package or [entry.package for entry in CATALOGUE]
    return build_library(args.out, packages, args.cache or args.out / ".cache", args.seed, say, args.keep_splits)
