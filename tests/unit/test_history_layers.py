"""Which history entries are layers, read from sizes, instructions and the layer count.

The expected flags are what Docker Engine 28.5.2 wrote as `empty_layer` in the configs of
these very histories (tests/integration/test_layers.py checks the rule on the engine).
"""

from stagelab.history_layers import keyword, layer_flags

BASE = [
    {"size": 1_982_256, "instruction": "COPY busybox /bin/busybox # buildkit"},
    {"size": 0, "instruction": "RUN /bin/busybox --install -s /bin # buildkit"},
    {"size": 0, "instruction": 'CMD ["sh"]'},
]


def entries(*pairs):
    return [{"size": size, "instruction": instruction} for size, instruction in pairs]


def test_config_instructions_are_never_layers_and_sized_entries_always_are():
    history = BASE + entries((4, "RUN echo one > /one.txt"), (0, "ENV A=1"), (0, "LABEL a=b"))
    assert layer_flags(history, 3) == [True, True, False, True, False, False]


def test_buildkit_keeps_a_layer_for_a_step_that_changed_nothing():
    # BuildKit: RUN true and WORKDIR of an existing folder are layers of 0 B.
    history = BASE + entries((0, "WORKDIR /src"), (0, "RUN /bin/sh -c true # buildkit"))
    assert layer_flags(history, 4) == [True, True, False, True, True]


def test_the_classic_builder_drops_empty_steps():
    # The classic builder: RUN true changed nothing on disk, so it is no layer.
    history = entries((5, "COPY file:ab in /a"), (0, "RUN true"), (0, '#(nop)  CMD ["x"]'))
    assert layer_flags(history, 1) == [True, False, False]


def test_a_mix_of_empty_and_real_zero_byte_steps_cannot_be_told_apart():
    # Classic, as measured: the base's 0 B RUN and WORKDIR /src (a new folder) are layers;
    # RUN true and a second WORKDIR /src are not. Only the image's config can tell.
    history = BASE + entries(
        (4, "RUN echo one > /one.txt"),
        (0, "#(nop) WORKDIR /src"),
        (0, "RUN true"),
        (0, "#(nop) WORKDIR /src"),
    )
    assert layer_flags(history, 4) is None


def test_a_count_that_does_not_add_up_is_not_guessed():
    assert layer_flags(entries((5, "COPY a /a")), 3) is None


def test_keyword_reads_both_builders_spellings():
    assert keyword("#(nop)  LABEL a=b") == "LABEL"
    assert keyword('cmd ["sh"]') == "CMD"
    assert keyword("") == ""
