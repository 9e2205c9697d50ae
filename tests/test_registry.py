import pytest

from privis.detect import DETECTORS, Detector, create_detector, register_detector
from privis.errors import PrivisError, UnknownNameError
from privis.obfuscate import OBFUSCATORS, available_obfuscators, create_obfuscator
from privis.regions import Regions


def test_builtins_registered():
    assert {"blur", "pixelate", "fill", "dp-pixelate"} <= set(available_obfuscators())
    assert "face-centerface" in DETECTORS.names()


def test_unknown_name_lists_known():
    with pytest.raises(UnknownNameError, match="known: .*pixelate"):
        create_obfuscator("smudge")


def test_bad_option_is_a_privis_error_naming_it():
    with pytest.raises(PrivisError, match="'blur' takes no option radius; it takes: min_sigma, shape, strength"):
        create_obfuscator("blur", radius=3)


def test_a_type_error_inside_a_constructor_is_not_called_bad_options():
    saved = OBFUSCATORS.snapshot()
    try:

        @OBFUSCATORS.register("broken")
        class Broken:
            def __init__(self, *, shape: str = "box") -> None:
                len(5)  # a bug

        with pytest.raises(TypeError, match="has no len"):
            create_obfuscator("broken", shape="box")
    finally:
        OBFUSCATORS.restore(saved)


def test_register_refuses_silent_overwrite_and_restores():
    saved = DETECTORS.snapshot()
    try:

        @register_detector("test-none")
        class Nothing(Detector):
            labels = ("face",)

            def detect(self, frame):
                return Regions.empty()

        assert create_detector("test-none").name == "test-none"
        with pytest.raises(PrivisError, match="already registered"):
            register_detector("test-none", type("Other", (Nothing,), {}))
        register_detector("test-none", type("Other", (Nothing,), {}), force=True)
    finally:
        DETECTORS.restore(saved)
    assert "test-none" not in DETECTORS.names()


def test_obfuscator_registry_snapshot_roundtrip():
    saved = OBFUSCATORS.snapshot()
    try:
        OBFUSCATORS.unregister("blur")
        assert "blur" not in available_obfuscators()
    finally:
        OBFUSCATORS.restore(saved)
    assert "blur" in available_obfuscators()
