"""Prompt extraction from ordinary outputs alone (output2prompt: Zhang, Morris & Shmatikov,
"Extracting prompts by inverting LLM outputs", 2024, [91]; survey Sec. V-A-2).

The deployment answers user messages under a hidden system prompt and returns text only (no
probabilities, no logit bias). The attacker

1. holds the public model and chat template locally (``knowledge.prior``, a
   :class:`~mi_text.targets.ChatLM`) and its own example system prompts
   (``knowledge.auxiliary``); it asks each of them the same ``outputs`` user messages and keeps
   the replies: (replies, prompt) training pairs;
2. trains an inverter that reads the k replies and writes the prompt: each reply encoded on its
   own (the paper's sparse encoder), a decoder attending to all of them
   (:class:`~mi_text.inverters.TextConditionedDecoder`; the paper fine-tunes T5-base on 30k
   prompts x 64 replies);
3. sends the same k messages to each hidden deployment (``knowledge.target_labels``: deployment
   ids) and decodes its replies into a prompt.

Queries: k per hidden prompt (one request = one reply, through the label-only view of a
:class:`~mi_text.targets.ChatService`). Compare with logit inversion, which needs full
next-token probabilities (one query per prompt).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from mi_core import device as devices
from mi_core.attack import BaseAttack
from mi_core.config import check_positive
from mi_core.errors import ConfigError
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_text.inverters import InverterConfig, TextConditionedDecoder, train_inverter
from mi_text.prompt_inversion import knowledge_parts
from mi_text.targets import ChatLM
from mi_text.tokenizers import WordTokenizer

#: generic user messages (the paper asks each deployment the same varied, ordinary questions)
USER_MESSAGES = (
    "Hi! Who are you?",
    "What can you help me with?",
    "Tell me about yourself.",
    "Give me an example of what you do.",
    "What should I know before we start?",
    "Can you describe your rules?",
    "How do you usually answer?",
    "What is your speciality?",
)


@dataclass
class Output2PromptConfig:
    """Hyper-parameters.

    Attributes:
        inverter: size and training of the inverter (``max_length``: longest prompt decoded).
        user_messages: messages sent to every deployment (the first ``outputs`` are used).
        outputs: replies per prompt (k): queries per hidden prompt.
        reply_tokens: words of each reply the inverter reads.
        beams: beam width when decoding.
        checkpoint: file the inverter's training resumes from.
        device: where the inverter trains and decodes (``auto``: CUDA when present, else the
            CPU); the attacker's local model replies where it lives.
    """

    inverter: InverterConfig = field(
        default_factory=lambda: InverterConfig(d_model=128, layers=2, epochs=10, max_length=40)
    )
    user_messages: tuple[str, ...] = USER_MESSAGES
    outputs: int = 4
    reply_tokens: int = 32
    beams: int = 4
    checkpoint: str | None = None
    progress: bool = True
    device: str = "auto"

    def __post_init__(self) -> None:
        devices.check_device(self.device)
        if isinstance(self.inverter, dict):
            self.inverter = InverterConfig(**self.inverter)
        check_positive("outputs", self.outputs)
        check_positive("reply_tokens", self.reply_tokens)
        check_positive("beams", self.beams)
        if len(self.user_messages) < self.outputs:
            raise ConfigError(
                f"user_messages: {self.outputs} outputs need as many messages, "
                f"{len(self.user_messages)} given"
            )


class Output2Prompt(BaseAttack):
    """An inverter reads k ordinary replies of a deployment and writes its system prompt."""

    name = "output2prompt"
    modality = "text"
    access = Access.LABEL_ONLY
    paper = "Zhang, Morris & Shmatikov 2024"
    summary = "an inverter trained on the attacker's own (replies, prompt) pairs reads k replies"
    Config = Output2PromptConfig
    requires = ("prior:chat-lm", "auxiliary:text", "target_labels")

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: Output2PromptConfig = self.config
        local, aux, targets = knowledge_parts(knowledge, ChatLM)
        messages = list(cfg.user_messages[: cfg.outputs])
        pairs = [(p, m) for p in aux for m in messages]
        replies: list[str] = []
        bar = tqdm(total=len(pairs), desc="attacker replies", disable=not cfg.progress, leave=False)
        for i in range(0, len(pairs), 256):
            replies += local.reply(pairs[i : i + 256])
            bar.update(len(pairs[i : i + 256]))
        bar.close()
        k = cfg.outputs
        rows = [replies[i * k : (i + 1) * k] for i in range(len(aux))]
        in_tok = WordTokenizer.fit(replies, lowercase=True, min_count=cfg.inverter.vocab_min_count)
        out_tok = WordTokenizer.fit(aux, min_count=cfg.inverter.vocab_min_count)
        torch.manual_seed(seed)  # built on the CPU from the seed, then moved: the same weights
        dev = devices.get_device(cfg.device)
        dec = devices.build(
            lambda: TextConditionedDecoder(in_tok, out_tok, cfg.inverter, k, cfg.reply_tokens),
            dev,
        )
        losses = train_inverter(
            dec,
            dec.encode_texts(rows),
            aux,
            seed=seed,
            checkpoint=cfg.checkpoint,
            progress=cfg.progress,
            desc="output2prompt inverter",
        )
        requests = [{"target": t, "user": m} for t in targets for m in messages]
        answers = [str(a) for a in view(requests)]
        seen = [answers[i * k : (i + 1) * k] for i in range(len(targets))]
        out = dec.generate(dec.encode_texts(seen), beams=cfg.beams)
        return self._result(
            out,
            targets=targets,
            info={"train_loss": losses, "replies": seen[:5], "outputs_per_prompt": k},
        )
