"""A1111's `/options`, per account: A1111's keys with the studio's real values, the ones the
studio can honour applied to that account's jobs, the rest kept and reported.

Why keep keys the studio cannot honour: A1111 clients (and A1111's own tests) write an
option and read it back; dropping it would make them think the write failed, and
pretending it works would be worse. So such a key is stored, read back as written, and the
account's next job says in a note that it did not change how the studio generates.

Honoured per account: `sd_model_checkpoint` (the model), `samples_format` (how API images
are encoded), and the studio's own `sampler_name` / `scheduler` defaults (used when a
request names none). A key A1111 does not have is refused with the list to pick from.
"""

from __future__ import annotations

from typing import Any

from studio.store.records import API_OPTIONS, insert_record, update_record

OPTIONS_TABLE = API_OPTIONS
SAMPLE_FORMATS = ("png", "jpg", "jpeg", "webp")

# A1111 1.10 option keys and A1111's own defaults (the ones clients read and write; the
# full list is in its modules/shared_options.py). Values the studio fills in are below.
A1111_DEFAULTS: dict[str, Any] = {
    "samples_save": True, "samples_format": "png", "samples_filename_pattern": "", "save_images_add_number": True,
    "save_images_replace_action": "Replace", "grid_save": True, "grid_format": "png", "grid_extended_filename": False,
    "grid_only_if_multiple": True, "grid_prevent_empty_spots": False, "n_rows": -1, "enable_pnginfo": True,
    "save_txt": False, "save_images_before_face_restoration": False, "save_images_before_highres_fix": False,
    "save_images_before_color_correction": False, "save_mask": False, "save_mask_composite": False, "jpeg_quality": 80,
    "webp_lossless": False, "export_for_4chan": True, "img_downscale_threshold": 4.0, "target_side_length": 4000.0,
    "img_max_size_mp": 200.0, "use_original_name_batch": True, "use_upscaler_name_as_suffix": False,
    "save_selected_only": True, "save_init_img": False, "temp_dir": "", "clean_temp_dir_at_start": False,
    "save_incomplete_images": False, "notification_audio": True, "notification_volume": 100,
    "outdir_samples": "", "outdir_txt2img_samples": "outputs/txt2img-images", "outdir_img2img_samples": "outputs/img2img-images",
    "outdir_extras_samples": "outputs/extras-images", "outdir_grids": "", "outdir_txt2img_grids": "outputs/txt2img-grids",
    "outdir_img2img_grids": "outputs/img2img-grids", "outdir_save": "log/images", "outdir_init_images": "outputs/init-images",
    "save_to_dirs": True, "grid_save_to_dirs": True, "use_save_to_dirs_for_ui": False, "directories_filename_pattern": "[date]",
    "directories_max_prompt_words": 8, "ESRGAN_tile": 192, "ESRGAN_tile_overlap": 8, "realesrgan_enabled_models": [],
    "upscaler_for_img2img": None, "face_restoration": False, "face_restoration_model": "CodeFormer",
    "code_former_weight": 0.5, "face_restoration_unload": False, "auto_launch_browser": "Local",
    "show_warnings": False, "show_gradio_deprecation_warnings": True, "memmon_poll_rate": 8, "samples_log_stdout": False,
    "multiple_tqdm": True, "print_hypernet_extra": False, "list_hidden_files": True, "disable_mmap_load_safetensors": False,
    "hide_ldm_prints": True, "dump_stacks_on_signal": False, "api_enable_requests": True, "api_forbid_local_requests": True,
    "api_useragent": "", "unload_models_when_training": False, "sd_model_checkpoint": None, "sd_checkpoints_limit": 1,
    "sd_checkpoints_keep_in_cpu": True, "sd_checkpoint_cache": 0, "sd_unet": "Automatic", "enable_quantization": False,
    "enable_emphasis": True, "enable_batch_seeds": True, "comma_padding_backtrack": 20, "CLIP_stop_at_last_layers": 1,
    "upcast_attn": False, "randn_source": "GPU", "tiling": False, "hires_fix_refiner_pass": "second pass",
    "sdxl_crop_top": 0, "sdxl_crop_left": 0, "sdxl_refiner_low_aesthetic_score": 2.5, "sdxl_refiner_high_aesthetic_score": 6.0,
    "sd_vae_checkpoint_cache": 0, "sd_vae": "Automatic", "sd_vae_overrides_per_model_preferences": True,
    "auto_vae_precision_bfloat16": False, "auto_vae_precision": True, "sd_vae_encode_method": "Full",
    "sd_vae_decode_method": "Full", "inpainting_mask_weight": 1.0, "initial_noise_multiplier": 1.0,
    "img2img_extra_noise": 0.0, "img2img_color_correction": False, "img2img_fix_steps": False,
    "img2img_background_color": "#ffffff", "img2img_editor_height": 720, "img2img_sketch_default_brush_color": "#ffffff",
    "img2img_inpaint_mask_brush_color": "#ffffff", "img2img_inpaint_sketch_default_brush_color": "#ffffff",
    "return_mask": False, "return_mask_composite": False, "img2img_batch_show_results_limit": 32,
    "overlay_inpaint": True, "cross_attention_optimization": "Automatic", "s_min_uncond": 0.0, "token_merging_ratio": 0.0,
    "token_merging_ratio_img2img": 0.0, "token_merging_ratio_hr": 0.0, "pad_cond_uncond": False,
    "pad_cond_uncond_v0": False, "persistent_cond_cache": True, "batch_cond_uncond": True, "fp8_storage": "Disable",
    "cache_fp16_weight": False, "auto_backcompat": True, "use_old_emphasis_implementation": False,
    "use_old_karras_scheduler_sigmas": False, "no_dpmpp_sde_batch_determinism": False,
    "use_old_hires_fix_width_height": False, "dont_fix_second_order_samplers_schedule": False,
    "hires_fix_use_firstpass_conds": False, "use_old_scheduling": False, "use_downcasted_alpha_bar": False,
    "refiner_switch_by_sample_steps": False, "interrogate_keep_models_in_memory": False, "interrogate_return_ranks": False,
    "interrogate_clip_num_beams": 1, "interrogate_clip_min_length": 24, "interrogate_clip_max_length": 48,
    "interrogate_clip_dict_limit": 1500, "interrogate_clip_skip_categories": [], "interrogate_deepbooru_score_threshold": 0.5,
    "deepbooru_sort_alpha": True, "deepbooru_use_spaces": True, "deepbooru_escape": True, "deepbooru_filter_tags": "",
    "extra_networks_show_hidden_directories": True, "extra_networks_default_multiplier": 1.0, "sd_hypernetwork": "None",
    "sd_lora": "None", "lora_preferred_name": "Alias from file", "lora_add_hashes_to_infotext": True,
    "return_grid": True, "do_not_show_images": False, "js_modal_lightbox": True, "js_modal_lightbox_initially_zoomed": True,
    "show_progress_in_title": True, "send_seed": True, "send_size": True, "quicksettings_list": ["sd_model_checkpoint"],
    "ui_reorder_list": [], "hires_fix_show_sampler": False, "hires_fix_show_prompts": False,
    "enable_pnginfo_parameters": True, "add_model_hash_to_info": True, "add_model_name_to_info": True,
    "add_user_name_to_info": False, "add_version_to_infotext": True, "disable_weights_auto_swap": True,
    "infotext_skip_pasting": [], "infotext_styles": "Apply if any", "show_progressbar": True,
    "live_previews_enable": True, "live_previews_image_format": "png", "show_progress_grid": True,
    "show_progress_every_n_steps": 10, "show_progress_type": "Approx NN", "live_preview_allow_lowvram_full": False,
    "live_preview_content": "Prompt", "live_preview_refresh_period": 1000, "live_preview_fast_interrupt": False,
    "js_live_preview_in_modal_lightbox": False, "hide_samplers": [], "eta_ddim": 0.0, "eta_ancestral": 1.0,
    "ddim_discretize": "uniform", "s_churn": 0.0, "s_tmin": 0.0, "s_tmax": 0.0, "s_noise": 1.0, "k_sched_type": "Automatic",
    "sigma_min": 0.0, "sigma_max": 0.0, "rho": 0.0, "eta_noise_seed_delta": 0, "always_discard_next_to_last_sigma": False,
    "sgm_noise_multiplier": False, "uni_pc_variant": "bh1", "uni_pc_skip_type": "time_uniform", "uni_pc_order": 3,
    "uni_pc_lower_order_final": True, "sd_noise_schedule": "Default", "postprocessing_enable_in_main_ui": [],
    "postprocessing_operation_order": [], "upscaling_max_images_in_cache": 5, "postprocessing_existing_caption_action": "Ignore",
    "disabled_extensions": [], "disable_all_extensions": "none", "restore_config_state_file": "", "sd_checkpoint_hash": "",
}
# The studio's own per-account defaults (not A1111 keys: A1111 keeps them in its UI config).
STUDIO_KEYS: dict[str, Any] = {"sampler_name": None, "scheduler": "automatic"}
HONOURED = ("sd_model_checkpoint", "samples_format", "sampler_name", "scheduler")
READ_ONLY = ("sd_checkpoint_hash",)
ALL_KEYS = {**A1111_DEFAULTS, **STUDIO_KEYS}


class OptionError(ValueError):
    """An option write that is refused as a whole; nothing was stored."""


def check_value(key: str, value: Any, resolve_model) -> Any:
    """The value to store for `key`, or OptionError saying what to send."""
    if key not in ALL_KEYS:
        raise OptionError(f"Unknown option {key!r}: GET /sdapi/v1/options lists the keys this server has.")
    if key in READ_ONLY:
        raise OptionError(f"{key} is read-only: it follows sd_model_checkpoint.")
    if key == "sd_model_checkpoint":
        return resolve_model(value)
    if key == "samples_format":
        if not isinstance(value, str) or value.lower() not in SAMPLE_FORMATS:
            raise OptionError(f"samples_format must be one of {', '.join(SAMPLE_FORMATS)}, got {value!r}.")
        return value.lower()
    if key in STUDIO_KEYS:
        from pipelines import samplers

        if value is None:
            return None
        found = isinstance(value, str) and (samplers.split_name(value)[0] if key == "sampler_name"
                                            else value.lower() in {s.name for s in samplers.SCHEDULES} | {s.label.lower() for s in samplers.SCHEDULES})
        if not found:
            listing = "/sdapi/v1/samplers" if key == "sampler_name" else "/sdapi/v1/schedulers"
            raise OptionError(f"{key} {value!r} is not a name from GET {listing}.")
        return value
    default = A1111_DEFAULTS[key]
    ok = (value is None or isinstance(value, str)) if default is None else (
        isinstance(value, bool) if isinstance(default, bool) else
        (isinstance(value, int) and not isinstance(value, bool)) if isinstance(default, int) else
        (isinstance(value, (int, float)) and not isinstance(value, bool)) if isinstance(default, float) else
        isinstance(value, type(default)))
    if not ok:
        raise OptionError(f"{key} must be {type(default).__name__ if default is not None else 'a string'} like its default "
                          f"{default!r}, got {value!r}.")
    return value


class AccountOptions:
    """Each account's stored options in the studio store (table `api_options`)."""

    def __init__(self, studio) -> None:
        self.studio = studio

    def _doc(self, user: str) -> dict | None:
        docs = self.studio.store.find(OPTIONS_TABLE, owner=user)
        return docs[-1] if docs else None

    def stored(self, user: str) -> dict:
        doc = self._doc(user) or {}
        values = dict(doc.get("values") or {})
        if doc.get("sd_model_checkpoint"):
            values["sd_model_checkpoint"] = doc["sd_model_checkpoint"]
        return values

    def model(self, user: str) -> str:
        chosen = self.stored(user).get("sd_model_checkpoint")
        return chosen if chosen in self.studio.catalog.ids() else self.studio.choose_default_model()

    def value(self, user: str, key: str) -> Any:
        return self.stored(user).get(key, ALL_KEYS[key])

    def check(self, body: dict, resolve_model) -> dict:
        """Every key checked before anything is stored: one bad key refuses the whole write."""
        return {key: check_value(key, value, resolve_model) for key, value in body.items()}

    def write(self, user: str, checked: dict) -> None:
        doc = self._doc(user)
        values = {**((doc or {}).get("values") or {}), **checked}
        pending = sorted(set((doc or {}).get("pending") or []) | {k for k in checked if k not in HONOURED})
        fields = {"values": values, "pending": pending}
        if "sd_model_checkpoint" in checked:
            fields["sd_model_checkpoint"] = checked["sd_model_checkpoint"]
        if doc:
            update_record(self.studio.store, OPTIONS_TABLE, doc["id"], fields)
        else:
            insert_record(self.studio.store, OPTIONS_TABLE, {"owner": user, **fields})

    def take_pending_note(self, user: str) -> str | None:
        """The note for the account's next job about options it stored that change nothing."""
        doc = self._doc(user)
        if not doc or not doc.get("pending"):
            return None
        update_record(self.studio.store, OPTIONS_TABLE, doc["id"], {"pending": []})
        return (f"options {', '.join(doc['pending'])} were saved but do not change how the studio generates "
                f"(it honours {', '.join(HONOURED)})")

    def as_a1111(self, user: str, model_hash: str | None) -> dict:
        model = self.model(user)
        return {**A1111_DEFAULTS, **STUDIO_KEYS, **self.stored(user),
                "sd_model_checkpoint": model, "sd_checkpoint_hash": model_hash or ""}
