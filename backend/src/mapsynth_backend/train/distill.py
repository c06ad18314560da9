"""Few-step students: progressive distillation with the guidance folded in (Meng et al. 2023, "On distillation of
guided diffusion models"). The student starts from the teacher's weights and learns, in one network evaluation
without a map-free branch, what SUBSTEPS guided DDIM steps of the teacher do; it then samples with DDIM on a grid
of STEPS steps ("trailing" spacing, so its last step lands on the clean image)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..generate.class_guidance import check_class_guidance, generation_weights, parse_class_guidance
from ..models import load_card, load_model
from ..runtime.protocol import UserError

# card entries that describe the teacher's training, sampling or evaluation, not the student's
TEACHER_ONLY = ("map_dropout", "guidance", "steps", "training")
TEACHER_ONLY += ("created", "held_out_evaluation", "augmentation_experiment", "baseline_prototype")
TEACHER_ONLY += ("fine_tuned_from", "replaces", "training_command", "licenses")  # how the teacher was made
TEACHER_ONLY += ("sampler_choice",)  # the teacher's sampler, chosen for it; a student has its own grid
CLASS_GUIDANCE_NAME = "DISTILL_CLASS_GUIDANCE"
DISTILLABLE = ("pixel",)  # families whose denoiser is one network on (sample, map) without text or latents


def distill_grid(steps: int, substeps: int, train_timesteps: int = 1000) -> int:
    """The teacher's DDIM stride; the student's and the teacher's grids must be whole-number ``trailing`` grids."""
    if train_timesteps % (steps * substeps):
        raise UserError(
            f"DISTILL_STEPS x DISTILL_SUBSTEPS = {steps * substeps} must divide the {train_timesteps} training"
            " timesteps (e.g. 4 x 2, 5 x 2, 5 x 4, 8 x 5)"
        )
    return train_timesteps // (steps * substeps)


def load_teacher(teacher_dir: Path, family: str, radiometry: dict[str, Any], size: int, device):
    """The frozen teacher, refused (one line) unless it is a distillable family for this dataset's bands."""
    card = load_card(teacher_dir)
    if card["family"] not in DISTILLABLE or card["family"] != family:
        raise UserError(
            f"DISTILL_FROM: {teacher_dir} is a {card['family']} model; distillation trains {family} students from"
            f" {' or '.join(DISTILLABLE)} teachers (choose FAMILY {card['family']} only if it is distillable)"
        )
    if card.get("bands") != radiometry["bands"] or card["radiometry"].get("clip") != radiometry.get("clip"):
        raise UserError(
            f"DISTILL_FROM: the teacher's bands {card.get('bands')} (and clip ranges) differ from the dataset's"
            f" {radiometry['bands']}; distil on the dataset the teacher was trained on"
        )
    if card.get("patch_size") != size:
        raise UserError(
            f"DISTILL_FROM: the teacher works on {card.get('patch_size')} px patches, the dataset on {size}"
        )
    teacher = load_model(teacher_dir, device)
    for module in teacher.trainable():
        module.requires_grad_(False).eval()
    return teacher


def student_card(teacher, teacher_dir: Path, params: dict[str, Any], by_class: dict[str, float]) -> dict[str, Any]:
    """The teacher's card with the folded guidance (``by_class``: the per-class part): one evaluation per step,
    the student's default steps."""
    card = dict(teacher.card)
    guidance = teacher.guidance_scale(params["distill_guidance"])
    by_class = by_class or None
    for key in TEACHER_ONLY:
        card.pop(key, None)
    if card.get("name"):
        card["name"] = f"{card['name']}-fewstep"
    card["description"] = (
        f"A {params['distill_steps']}-step student distilled from {teacher_dir.resolve().name}, guidance folded in. "
        + str(card.get("description", ""))
    ).strip()
    card.update(
        default_steps=params["distill_steps"],
        default_guidance=1.0,
        sampler="ddim-trailing",
        distilled={
            "method": "progressive distillation, guidance folded in (Meng et al. 2023)",
            "teacher": teacher_dir.resolve().name,
            "teacher_created": teacher.card.get("created"),
            "teacher_guidance": guidance,
            "teacher_class_guidance": by_class,
            "teacher_class_guidance_margin": params["distill_class_guidance_margin"] if by_class else None,
            "teacher_ddim_steps": params["distill_steps"] * params["distill_substeps"],
            "substeps": params["distill_substeps"],
        },
    )
    return card


def _schedule(scheduler, timesteps, like):
    """sqrt(alpha_bar) and sqrt(1 - alpha_bar) at ``timesteps`` (-1 = the clean image), shaped like ``like``."""
    import torch

    bars = scheduler.alphas_cumprod.to(like.device)
    bar = torch.where(timesteps >= 0, bars[timesteps.clamp(min=0)], torch.ones_like(bars[:1]))
    shape = (-1,) + (1,) * (like.ndim - 1)
    return bar.sqrt().view(shape).to(like.dtype), (1 - bar).sqrt().view(shape).to(like.dtype)


class DistillationLoss:
    """loss(batch, scheduler, generator): the student's v-prediction against the one that makes a single DDIM
    step land where SUBSTEPS guided teacher steps land (from the same noisy real patch)."""

    def __init__(self, student, teacher, params: dict[str, Any], by_class: dict[str, float]) -> None:
        self.student, self.teacher = student, teacher
        self.steps, self.substeps = params["distill_steps"], params["distill_substeps"]
        self.guidance = teacher.guidance_scale(params["distill_guidance"])
        # per-class guidance folded in as generate's CLASS_GUIDANCE applies it (teacher's guidance elsewhere)
        self.by_class, self.margin = by_class, params["distill_class_guidance_margin"]
        self.stride = distill_grid(self.steps, self.substeps, teacher.card["train_scheduler"]["num_train_timesteps"])

    def __call__(self, batch: dict[str, Any], scheduler, generator=None):
        import torch

        from ..models.band_scaling import to_diffusion

        target, maps = to_diffusion(self.teacher.card, batch["target"]), batch["map"]  # the teacher's space
        noise = torch.randn(target.shape, generator=generator).to(target)
        index = torch.randint(0, self.steps, (target.shape[0],), generator=generator).to(target.device)
        start = scheduler.config.num_train_timesteps - 1 - index * self.substeps * self.stride
        a, s = _schedule(scheduler, start, target)
        noisy = a * target + s * noise
        with torch.no_grad():
            weights = generation_weights(self.teacher, self.by_class, self.margin, self.guidance, maps)
            guidance = self.guidance if weights is None else weights
            current, t = noisy, start
            for _ in range(self.substeps):
                velocity = self.teacher.predict(current, maps, t, guidance)  # exactly generation's guidance
                a_t, s_t = _schedule(scheduler, t, target)
                a_p, s_p = _schedule(scheduler, t - self.stride, target)
                clean, eps = a_t * current - s_t * velocity, s_t * current + a_t * velocity
                current, t = a_p * clean + s_p * eps, t - self.stride
            a_e, s_e = _schedule(scheduler, t, target)
            ratio = s_e / s
            clean = (current - ratio * noisy) / (a_e - ratio * a)
            goal = a * (noisy - a * clean) / s - s * clean
        prediction = self.student.unet(torch.cat([noisy, maps], dim=1), start).sample
        weights = batch["valid"].to(target.dtype)
        error = (prediction.float() - goal.float()) ** 2 * weights
        return error.sum() / (weights.sum() * target.shape[1]).clamp(min=1)


def prepare_distillation(params: dict[str, Any], family, radiometry: dict[str, Any], size: int, device):
    """(student, teacher, loss) for ``train-model --distill-from``; the student is a trainable copy."""
    teacher_dir = Path(params["distill_from"])
    distill_grid(params["distill_steps"], params["distill_substeps"])
    teacher = load_teacher(teacher_dir, family.family, radiometry, size, device)
    by_class = parse_class_guidance(params["distill_class_guidance"], CLASS_GUIDANCE_NAME)
    check_class_guidance(teacher, by_class, CLASS_GUIDANCE_NAME)
    import torch

    student = family.load(teacher_dir, json.loads(json.dumps(teacher.card)), "cpu")
    student.unet = student.unet.to(memory_format=torch.contiguous_format).requires_grad_(True)
    student.card = student_card(teacher, teacher_dir, params, by_class)
    return student, teacher, DistillationLoss(student, teacher, params, by_class)
