"""A tokenizer for every language Puente speaks, in one model.

Rasa's WhitespaceTokenizer sees a whole Chinese sentence as one token, so the
word-level features learn nothing from it. This tokenizer keeps whitespace
tokenization for the spaced scripts (Latin, Vietnamese, Hangul) and makes each
Han character its own token: in short texts, single characters carry most of
the meaning, and the character n-gram featurizer still sees the sequences.
It also cuts a token where the script changes, because people glue particles and
words of one script to a term of another: "ICE랑" is "ICE" and "랑", "Fresno有没有"
is "Fresno" and the characters after it, "90006지역" is a ZIP code and a word.
Nothing to download, no per-language model: adding a language needs no change.
With `split_korean_endings: true`, a Hangul word also loses its commonest particles
and endings, each a token of its own (bot/components/korean.py): 이민자한테 is
이민자 and 한테, so the word features see the same 이민자 in every sentence.
"""

from __future__ import annotations

from typing import Any, Dict, List

import regex
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message

from bot.components.korean import split_hangul

# One Han character; a run of Hangul; a run of Latin letters and digits; a run of anything else.
_PIECES = regex.compile(r"\p{Han}|\p{Hangul}+|[\p{Latin}\p{N}\p{M}'’-]+|[^\p{Han}\p{Hangul}\p{Latin}\p{N}]+")


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False
)
class MultilingualTokenizer(WhitespaceTokenizer):
    """Whitespace tokens, cut where the script changes, with each Han character a token."""

    @staticmethod
    def not_supported_languages() -> List[str] | None:
        return None

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {**WhitespaceTokenizer.get_default_config(), "split_korean_endings": False}

    def remove_emoji(self, text: str) -> str:
        """Drops a word only if it is emoji, not a Hangul or Han word.

        Rasa's emoji pattern takes in U+24C2 to U+1F251, all of Hangul and Han among them:
        its WhitespaceTokenizer drops every all-Hangul or all-Han word, so "ICE랑 경찰이
        협력해요" was the one token "ICE랑", and a message with no other word was kept whole,
        its spaces and punctuation becoming tokens.
        """
        if any(ch.isalnum() for ch in text):
            return text
        return super().remove_emoji(text)

    def tokenize(self, message: Message, attribute: str) -> List[Token]:
        split = bool(self._config.get("split_korean_endings"))
        tokens: List[Token] = []
        for token in super().tokenize(message, attribute):
            for piece in _PIECES.finditer(token.text):
                start = token.start + piece.start()
                for part in split_hangul(piece.group()) if split else [piece.group()]:
                    tokens.append(Token(part, start))
                    start += len(part)
        return tokens
