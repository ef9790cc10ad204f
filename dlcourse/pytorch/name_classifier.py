"""The surname classifier of lesson 10a and exercise 10: characters in, a language out.

:class:`NameClassifier` reads a batch of names as padded character ids ``(B, T)`` (0 = padding,
:class:`dlcourse.data.sequence_data.Vocabulary`): an embedding of the ids, a GRU that stops at each
name's last character (a packed sequence), and a linear layer from that last hidden state to one
score per language, ``(B, n_languages)``. Its parameters, by name (what exercise 10 fixes and its
model task, :mod:`dlcourse.model_tasks.char_classifier`, loads)::

    embed.weight      (n_chars, embed)          row 0, padding, stays zero
    rnn.weight_ih_l0  (3 hidden, embed)         the GRU's gates r, z, n, stacked
    rnn.weight_hh_l0  (3 hidden, hidden)
    rnn.bias_ih_l0    (3 hidden,)
    rnn.bias_hh_l0    (3 hidden,)
    out.weight        (n_languages, hidden)
    out.bias          (n_languages,)
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["NameClassifier"]


class NameClassifier(nn.Module):
    """``Embedding(n_chars, embed, padding_idx=0)``, ``GRU(embed, hidden, batch_first=True)`` on
    packed sequences, ``Linear(hidden, n_languages)``: ids ``(B, T)`` -> logits ``(B, n_languages)``.

    A row of padding only is read as one padding character (its length is taken as 1).
    """

    def __init__(self, n_chars: int, n_languages: int, embed: int = 32, hidden: int = 64) -> None:
        super().__init__()
        self.embed = nn.Embedding(n_chars, embed, padding_idx=0)
        self.rnn = nn.GRU(embed, hidden, batch_first=True)
        self.out = nn.Linear(hidden, n_languages)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lengths = (x != 0).sum(dim=1).clamp(min=1).cpu()                     # (B,)
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(x), lengths, batch_first=True,
                                                   enforce_sorted=False)
        _, h_last = self.rnn(packed)                      # (1, B, hidden): at each last character
        return self.out(h_last[-1])
