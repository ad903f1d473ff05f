"""ImageNet's class list and the validation set's label files: seed 003's two helpers.

The course's ``getimagenetclasses`` module gives ``parsesynsetwords`` and ``parseclasslabel``;
these are the same functions with readable names. ``synset_words.txt`` has one class a line,
in the order of the networks' 1,000 outputs::

    n01440764 tench, Tinca tinca
    n01443537 goldfish, Carassius auratus

and each validation image ``ILSVRC2012_val_00049999.JPEG`` has a bounding-box file
``ILSVRC2012_val_00049999.xml`` whose ``<object><name>`` elements name its synset::

    <annotation><filename>ILSVRC2012_val_00049999</filename> ...
      <object><name>n10148035</name> <bndbox>...</bndbox></object> ...
    </annotation>

Where the course's helper prints an error and calls ``exit()`` (an image whose boxes name two
classes, or none), these raise :class:`LabelError` naming the file.
"""

import os
import xml.etree.ElementTree as ET


class LabelError(ValueError):
    """A synset list or a label file that cannot be read as ImageNet's; the message names the file."""


def parse_synset_words(path):
    """``(index_to_synset, synset_to_index, synset_to_description)`` of a ``synset_words.txt``.

    Line k (0-based, blank lines skipped as the course's helper skips lines of 5 characters
    or fewer) is class k: its first word is the synset, the rest its description
    (``"groom, bridegroom"``). A line without a description or a synset listed twice is an error.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"synset list {path!r} does not exist; expected ImageNet's synset_words.txt "
                                "(one 'n01440764 tench, Tinca tinca' line per class)")
    index_to_synset, synset_to_index, synset_to_description = {}, {}, {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            words = line.split(maxsplit=1)
            if not words:
                continue
            if len(words) < 2:
                raise LabelError(f"{path}, line {number}: {line.strip()!r} has no description; expected "
                                 "'<synset> <description>', e.g. 'n01440764 tench, Tinca tinca'")
            synset, description = words[0], words[1].strip()
            if synset in synset_to_index:
                raise LabelError(f"{path}, line {number}: synset {synset} is listed twice (first as class "
                                 f"{synset_to_index[synset]})")
            index = len(index_to_synset)
            index_to_synset[index], synset_to_index[synset], synset_to_description[synset] = synset, index, description
    if not index_to_synset:
        raise LabelError(f"synset list {path!r} has no classes; expected one '<synset> <description>' line per class")
    return index_to_synset, synset_to_index, synset_to_description


def parse_class_label(xml_path, synset_to_index):
    """``(label, synset)`` of one validation image's bounding-box XML file.

    Every ``<object><name>`` must name the same synset, and it must be in ``synset_to_index``
    (from :func:`parse_synset_words`); a file naming two classes, none, or an unknown synset
    raises :class:`LabelError` naming the file.
    """
    xml_path = os.fspath(xml_path)
    try:
        root = ET.parse(xml_path).getroot()
    except FileNotFoundError:
        raise FileNotFoundError(f"label file {xml_path!r} does not exist") from None
    except ET.ParseError as err:
        raise LabelError(f"label file {xml_path!r} is not well-formed XML: {err}") from None
    synsets = [(name.text or "").strip() for obj in root.findall("object") for name in obj.findall("name")]
    if len(set(synsets)) != 1:
        found = ", ".join(sorted(set(synsets))) or "none"
        raise LabelError(f"label file {xml_path!r} names {len(set(synsets))} classes ({found}); expected its "
                         "<object><name> elements to name exactly one synset")
    synset = synsets[0]
    if synset not in synset_to_index:
        raise LabelError(f"label file {xml_path!r} names synset {synset!r}, which is not in the synset list")
    return synset_to_index[synset], synset
