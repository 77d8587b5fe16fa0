"""Names of the architecture config classes (data only; the rule lives in :mod:`xporter_onnx.configs`).

A row's class is called after the model type's transformers config class: ``GPT2Config`` ->
``GPT2OnnxConfig``, ``XLMRobertaConfig`` -> ``XLMRobertaOnnxConfig``. Importing transformers to read
that name would make registration heavy, so the spellings are stored here:

* :data:`TRANSFORMERS_SPELLINGS`: model type -> config class name without ``Config``, for every type
  of transformers 5.24 (and the types 4.57 still had) whose name is not just the model type
  capitalized part by part (``gpt_neox`` -> ``GptNeox`` needs no entry; ``gpt2`` -> ``GPT2`` does).
  Generated from ``CONFIG_MAPPING_NAMES``; ``tests/test_config_api.py`` checks it against the
  installed transformers for every registered row.
* :data:`EXPLICIT_NAMES`: (library, model type) -> class name, where the rule gives nothing (pseudo
  types such as ``siglip-text`` or diffusers components) or where Optimum registered the type
  under another spelling (``DptOnnxConfig``): code written against Optimum's class names imports
  the same names here.
"""

from __future__ import annotations

from typing import Dict, Tuple

EXPLICIT_NAMES: Dict[Tuple[str, str], str] = {
    ("diffusers", "clip-text"): "CLIPTextOnnxConfig",
    ("diffusers", "clip-text-with-projection"): "CLIPTextWithProjectionOnnxConfig",
    ("diffusers", "dcae-decoder"): "DcaeDecoderOnnxConfig",
    ("diffusers", "dcae-encoder"): "DcaeEncoderOnnxConfig",
    ("diffusers", "flux-transformer-2d"): "FluxTransformerOnnxConfig",
    ("diffusers", "gemma2-text-encoder"): "Gemma2TextEncoderOnnxConfig",
    ("diffusers", "sana-transformer"): "SanaTransformerOnnxConfig",
    ("diffusers", "sd3-transformer-2d"): "SD3TransformerOnnxConfig",
    ("diffusers", "t5-encoder"): "T5EncoderOnnxConfig",
    ("diffusers", "unet-2d-condition"): "UNetOnnxConfig",
    ("diffusers", "vae-decoder"): "VaeDecoderOnnxConfig",
    ("diffusers", "vae-encoder"): "VaeEncoderOnnxConfig",
    ("sentence_transformers", "clip"): "SentenceTransformersCLIPOnnxConfig",
    ("sentence_transformers", "transformer"): "SentenceTransformersTransformerOnnxConfig",
    ("timm", "default-timm-config"): "TimmDefaultOnnxConfig",
    ("transformers", "clip_vision_model"): "CLIPVisionModelOnnxConfig",
    ("transformers", "cvt"): "CvTOnnxConfig",
    ("transformers", "deepseek_v3"): "DeepSeekV3OnnxConfig",
    ("transformers", "dpt"): "DptOnnxConfig",
    ("transformers", "glm"): "GLMOnnxConfig",
    ("transformers", "glpn"): "GlpnOnnxConfig",
    ("transformers", "gpt_oss"): "GPTOssOnnxConfig",
    ("transformers", "internlm2"): "InternLM2OnnxConfig",
    ("transformers", "metaclip_2"): "MetaCLIP2OnnxConfig",
    ("transformers", "mpt"): "MPTOnnxConfig",
    ("transformers", "owlv2"): "OwlV2OnnxConfig",
    ("transformers", "siglip-text"): "SiglipTextOnnxConfig",
    ("transformers", "siglip-text-with-projection"): "SiglipTextWithProjectionOnnxConfig",
    ("transformers", "siglip_vision_model"): "SiglipVisionModelOnnxConfig",
    ("transformers", "stablelm"): "StableLMOnnxConfig",
    ("transformers", "swin2sr"): "Swin2srOnnxConfig",
    ("transformers", "swinv2"): "SwinV2OnnxConfig",
    ("transformers", "unispeech-sat"): "UniSpeechSATOnnxConfig",
    ("transformers", "vit_mae"): "VitMAEOnnxConfig",
    ("transformers", "vit_msn"): "VitMSNOnnxConfig",
}

TRANSFORMERS_SPELLINGS: Dict[str, str] = {
    "aimv2_text_model": "Aimv2Text", "aimv2_vision_model": "Aimv2Vision", "align_text_model": "AlignText",
    "align_vision_model": "AlignVision", "altclip": "AltCLIP", "altclip_text_model": "AltCLIPText",
    "altclip_vision_model": "AltCLIPVision", "audio-spectrogram-transformer": "AST", "audioflamingo3": "AudioFlamingo3",
    "audioflamingo3_encoder": "AudioFlamingo3Encoder", "axk1": "AXK1", "axk2": "AXK2", "bigbird_pegasus":
    "BigBirdPegasus", "biogpt": "BioGpt", "bitnet": "BitNet", "blip_2_qformer": "Blip2QFormer", "blip_2_vision_model":
    "Blip2Vision", "blip_text_model": "BlipText", "blip_vision_model": "BlipVision", "bridgetower": "BridgeTower",
    "bridgetower_text_model": "BridgeTowerText", "bridgetower_vision_model": "BridgeTowerVision", "chameleon_vqgan":
    "ChameleonVQVAE", "chinese_clip": "ChineseCLIP", "chinese_clip_text_model": "ChineseCLIPText",
    "chinese_clip_vision_model": "ChineseCLIPVision", "chmv2": "CHMv2", "clap_audio_model": "ClapAudio",
    "clap_text_model": "ClapText", "clip": "CLIP", "clip_text_model": "CLIPText", "clip_vision_model": "CLIPVision",
    "clipseg": "CLIPSeg", "clipseg_text_model": "CLIPSegText", "clipseg_vision_model": "CLIPSegVision", "codegen":
    "CodeGen", "colmodernvbert": "ColModernVBert", "colpali": "ColPali", "colqwen2": "ColQwen2", "convbert": "ConvBert",
    "convnext": "ConvNext", "convnextv2": "ConvNextV2", "cpmant": "CpmAnt", "csm_depth_decoder_model":
    "CsmDepthDecoder", "ctrl": "CTRL", "data2vec-audio": "Data2VecAudio", "data2vec-text": "Data2VecText",
    "data2vec-vision": "Data2VecVision", "deepseek_ocr2_encoder": "DeepseekOcr2VisionEncoder",
    "deepseek_ocr2_sam_vision_model": "DeepseekOcr2SamVision", "deepseek_vl": "DeepseekVL", "deepseek_vl_hybrid":
    "DeepseekVLHybrid", "deit": "DeiT", "diffllama": "DiffLlama", "dinov3_convnext": "DINOv3ConvNext", "dinov3_vit":
    "DINOv3ViT", "distilbert": "DistilBert", "dots3_note_audio_encoder": "Dots3NoteAudio", "dots3_note_vision_encoder":
    "Dots3NoteVision", "dpr": "DPR", "dpt": "DPT", "edgetam": "EdgeTam", "edgetam_mask_decoder": "EdgeTamMaskDecoder",
    "edgetam_prompt_encoder": "EdgeTamPromptEncoder", "edgetam_video": "EdgeTamVideo", "edgetam_video_mask_decoder":
    "EdgeTamVideoMaskDecoder", "edgetam_video_prompt_encoder": "EdgeTamVideoPromptEncoder", "edgetam_vision_model":
    "EdgeTamVision", "efficientformer": "EfficientFormer", "efficientloftr": "EfficientLoFTR", "efficientnet":
    "EfficientNet", "emu3_text_model": "Emu3Text", "emu3_vqgan": "Emu3VQVAE", "ernie4_5": "Ernie4_5", "ernie4_5_moe":
    "Ernie4_5_Moe", "ernie4_5_vl_moe": "Ernie4_5_VLMoe", "ernie4_5_vl_moe_text": "Ernie4_5_VLMoeText",
    "ernie4_5_vl_moe_vision": "Ernie4_5_VLMoeVision", "esmfold2": "EsmFold2", "eurobert": "EuroBert", "exaone4_5":
    "Exaone4_5_", "exaone4_5_vision": "Exaone4_5_Vision", "fastspeech2_conformer": "FastSpeech2Conformer",
    "fastspeech2_conformer_hifigan": "FastSpeech2ConformerHifiGan", "fastspeech2_conformer_with_hifigan":
    "FastSpeech2ConformerWithHifiGan", "flava_image_model": "FlavaImage", "flava_multimodal_model": "FlavaMultimodal",
    "flava_text_model": "FlavaText", "florence_vision": "Florence2Vision", "fnet": "FNet", "focalnet": "FocalNet",
    "fsmt": "FSMT", "git_vision_model": "GitVision", "glm46v": "Glm46V", "glm_image_vqmodel": "GlmImageVQVAE", "glmasr":
    "GlmAsr", "glmasr_encoder": "GlmAsrEncoder", "glpn": "GLPN", "gpt2": "GPT2", "gpt_bigcode": "GPTBigCode", "gpt_neo":
    "GPTNeo", "gpt_neox": "GPTNeoX", "gpt_neox_japanese": "GPTNeoXJapanese", "gptj": "GPTJ", "gptsan-japanese":
    "GPTSanJapanese", "gradium_phonon_tts": "GradiumPhononTTS", "granite_speech5_ctc": "GraniteSpeech5CTC",
    "granite_swa": "GraniteSWA", "granitemoe": "GraniteMoe", "granitemoe_swa": "GraniteMoeSWA", "granitemoehybrid":
    "GraniteMoeHybrid", "granitemoeshared": "GraniteMoeShared", "groupvit": "GroupViT", "groupvit_text_model":
    "GroupViTText", "groupvit_vision_model": "GroupViTVision", "hgnet_v2": "HGNetV2", "hunyuan_v1_dense":
    "HunYuanDenseV1", "hunyuan_v1_moe": "HunYuanMoEV1", "hunyuan_vl": "HunYuanVL", "hunyuan_vl_text": "HunYuanVLText",
    "hunyuan_vl_vision": "HunYuanVLVision", "hy_v3": "HYV3", "hy_v4": "HYV4", "hy_v4_vl": "HYV4VL", "hy_v4_vl_text":
    "HYV4VLText", "hy_v4_vl_vision": "HYV4VLVision", "hyperclovax": "HyperCLOVAX", "hyperclovax_vision_v2":
    "HyperCLOVAXVisionV2", "ibert": "IBert", "idefics_perciever": "IdeficsPerceiver", "ijepa": "IJepa", "imagegpt":
    "ImageGPT", "inkling_mm_model": "Inkling", "instructblip": "InstructBlip", "instructblip_qformer":
    "InstructBlipQFormer", "instructblip_vision_model": "InstructBlipVision", "instructblipvideo": "InstructBlipVideo",
    "instructblipvideo_qformer": "InstructBlipVideoQFormer", "instructblipvideo_vision_model":
    "InstructBlipVideoVision", "internlm3": "InternLM3", "internvl": "InternVL", "internvl_vision": "InternVLVision",
    "iquestcoder": "IQuestCoder", "janus_vision_model": "JanusVision", "janus_vqgan": "JanusVQVAE", "jetmoe": "JetMoe",
    "kimi_k25": "Kimi_K25", "kimi_k25_vision": "Kimi_K25Vision", "kosmos-2.5": "Kosmos2_5", "kosmos_2_5_text_model":
    "Kosmos2_5Text", "kosmos_2_5_vision_model": "Kosmos2_5Vision", "kosmos_2_text_model": "Kosmos2Text",
    "kosmos_2_vision_model": "Kosmos2Vision", "lasr_ctc": "LasrCTC", "layoutlm": "LayoutLM", "layoutlmv2": "LayoutLMv2",
    "layoutlmv3": "LayoutLMv3", "layoutxlm": "LayoutXLM", "led": "LED", "lightglue": "LightGlue", "lighton_ocr":
    "LightOnOcr", "llama4_vision_model": "Llama4Vision", "longt5": "LongT5", "lw_detr_vit": "LwDetrViT", "m2m_100":
    "M2M100", "markuplm": "MarkupLM", "mask2former": "Mask2Former", "maskformer": "MaskFormer", "maskformer-swin":
    "MaskFormerSwin", "mbart": "MBart", "mctct": "MCTCT", "metaclip_2": "MetaClip2", "metaclip_2_text_model":
    "MetaClip2Text", "metaclip_2_vision_model": "MetaClip2Vision", "mgp-str": "Mgpstr", "mimo_v2_flash": "MiMoV2Flash",
    "minicpm3": "MiniCPM3", "minicpm_ocr": "MiniCPMOcr", "minicpm_ocr_vision": "MiniCPMOcrVision", "minicpmv4_6":
    "MiniCPMV4_6", "minicpmv4_6_vision": "MiniCPMV4_6Vision", "minicpmv4_7": "MiniCPMV4_7", "minicpmv4_7_vision":
    "MiniCPMV4_7Vision", "minimax": "MiniMax", "minimax_m2": "MiniMaxM2", "minimax_m3_vl": "MiniMaxM3VL",
    "minimax_m3_vl_text": "MiniMaxM3VLText", "minimax_m3_vl_vision": "MiniMaxM3VLVision", "mllama_text_model":
    "MllamaText", "mllama_vision_model": "MllamaVision", "mm-grounding-dino": "MMGroundingDino", "mobilebert":
    "MobileBert", "mobilenet_v1": "MobileNetV1", "mobilenet_v2": "MobileNetV2", "mobilevit": "MobileViT", "mobilevitv2":
    "MobileViTV2", "modernbert": "ModernBert", "modernbert-decoder": "ModernBertDecoder", "modernvbert": "ModernVBert",
    "mpnet": "MPNet", "mt5": "MT5", "musicflamingo": "MusicFlamingo", "nanochat": "NanoChat", "nemo_speechlm":
    "Nemotron3_5Transcribe", "nemotron3_5_asr": "Nemotron3_5Asr", "nemotron3_5_transcribe_asr_audio":
    "Nemotron3_5TranscribeAsrAudio", "nemotron3_5_transcribe_audio": "Nemotron3_5TranscribeAudio",
    "nemotron3_5_transcribe_word_timestamp": "Nemotron3_5TranscribeWordTimestamp", "nemotron_h_omni":
    "NemotronH_Omni_Reasoning_V3_", "neomme": "NeoMME", "neucodec": "NeuCodec", "omdet-turbo": "OmDetTurbo", "omniasr":
    "OmniASR", "omniasr_audio": "OmniASRAudio", "omniasr_ctc": "OmniASRCTC", "oneformer": "OneFormer", "openai-gpt":
    "OpenAIGPT", "openai_privacy_filter": "OpenAIPrivacyFilter", "opt": "OPT", "owlv2_text_model": "Owlv2Text",
    "owlv2_vision_model": "Owlv2Vision", "owlvit": "OwlViT", "owlvit_text_model": "OwlViTText", "owlvit_vision_model":
    "OwlViTVision", "paddleocr_vl": "PaddleOCRVL", "paddleocr_vl_text": "PaddleOCRText", "paddleocr_vl_vision":
    "PaddleOCRVision", "paligemma": "PaliGemma", "parakeet_ctc": "ParakeetCTC", "parakeet_rnnt": "ParakeetRNNT",
    "parakeet_tdt": "ParakeetTDT", "patchtsmixer": "PatchTSMixer", "patchtst": "PatchTST", "perception_lm":
    "PerceptionLM", "pi0": "PI0", "pix2struct": "Pix2Struct", "pix2struct_text_model": "Pix2StructText",
    "pix2struct_vision_model": "Pix2StructVision", "pixtral": "PixtralVision", "plbart": "PLBart", "pocket_tts":
    "PocketTTS", "pocket_tts_audio_tokenizer": "PocketTTSAudioTokenizer", "pocket_tts_audio_tokenizer_decoder":
    "PocketTTSAudioTokenizerDecoder", "pocket_tts_audio_tokenizer_encoder": "PocketTTSAudioTokenizerEncoder",
    "poolformer": "PoolFormer", "pop2piano": "Pop2Piano", "pp_chart2table": "PPChart2Table", "pp_chart2table_vision":
    "PPChart2TableVision", "pp_doclayout_v2": "PPDocLayoutV2", "pp_doclayout_v3": "PPDocLayoutV3", "pp_doclayout_v4":
    "PPDocLayoutV4", "pp_formulanet": "PPFormulaNet", "pp_formulanet_text": "PPFormulaNetText", "pp_formulanet_vision":
    "PPFormulaNetVision", "pp_lcnet": "PPLCNet", "pp_lcnet_v3": "PPLCNetV3", "pp_lcnet_v4": "PPLCNetV4",
    "pp_ocrv5_mobile_det": "PPOCRV5MobileDet", "pp_ocrv5_mobile_rec": "PPOCRV5MobileRec", "pp_ocrv5_server_det":
    "PPOCRV5ServerDet", "pp_ocrv5_server_rec": "PPOCRV5ServerRec", "pp_ocrv6_medium_det": "PPOCRV6MediumDet",
    "pp_ocrv6_small_det": "PPOCRV6SmallDet", "pp_ocrv6_small_rec": "PPOCRV6SmallRec", "pp_ocrv6_tiny_rec":
    "PPOCRV6TinyRec", "prophetnet": "ProphetNet", "qdqbert": "QDQBert", "qianfan_ocr": "QianfanOCR",
    "qianfan_ocr_vision": "QianfanOCRVision", "qwen2_5_omni": "Qwen2_5Omni", "qwen2_5_omni_audio_encoder":
    "Qwen2_5OmniAudioEncoder", "qwen2_5_omni_bigvgan": "Qwen2_5OmniBigVGAN", "qwen2_5_omni_dit": "Qwen2_5OmniDiT",
    "qwen2_5_omni_talker": "Qwen2_5OmniTalker", "qwen2_5_omni_text": "Qwen2_5OmniText", "qwen2_5_omni_thinker":
    "Qwen2_5OmniThinker", "qwen2_5_omni_token2wav": "Qwen2_5OmniToken2Wav", "qwen2_5_omni_vision_encoder":
    "Qwen2_5OmniVisionEncoder", "qwen2_5_vl": "Qwen2_5_VL", "qwen2_5_vl_text": "Qwen2_5_VLText", "qwen2_5_vl_vision":
    "Qwen2_5_VLVision", "qwen2_vl": "Qwen2VL", "qwen2_vl_text": "Qwen2VLText", "qwen2_vl_vision": "Qwen2VLVision",
    "qwen3_5": "Qwen3_5", "qwen3_5_moe": "Qwen3_5Moe", "qwen3_5_moe_text": "Qwen3_5MoeText", "qwen3_5_moe_vision":
    "Qwen3_5MoeVision", "qwen3_5_text": "Qwen3_5Text", "qwen3_5_vision": "Qwen3_5Vision", "qwen3_asr": "Qwen3ASR",
    "qwen3_asr_encoder": "Qwen3ASREncoder", "qwen3_vl": "Qwen3VL", "qwen3_vl_moe": "Qwen3VLMoe", "qwen3_vl_moe_text":
    "Qwen3VLMoeText", "qwen3_vl_moe_vision": "Qwen3VLMoeVision", "qwen3_vl_text": "Qwen3VLText", "qwen3_vl_vision":
    "Qwen3VLVision", "regnet": "RegNet", "rembert": "RemBert", "resnet": "ResNet", "retribert": "RetriBert",
    "roberta-prelayernorm": "RobertaPreLayerNorm", "roc_bert": "RoCBert", "roformer": "RoFormer", "rt_detr": "RTDetr",
    "rt_detr_resnet": "RTDetrResNet", "rt_detr_v2": "RTDetrV2", "sam2_hiera_det_model": "Sam2HieraDet",
    "sam2_vision_model": "Sam2Vision", "sam3_detr_decoder": "Sam3DETRDecoder", "sam3_detr_encoder": "Sam3DETREncoder",
    "sam3_lite_text_detr_decoder": "Sam3LiteTextDETRDecoder", "sam3_lite_text_detr_encoder": "Sam3LiteTextDETREncoder",
    "sam3_lite_text_text_model": "Sam3LiteTextText", "sam3_vision_model": "Sam3Vision", "sam3_vit_model": "Sam3ViT",
    "sam_hq": "SamHQ", "sam_hq_mask_decoder": "SamHQMaskDecoder", "sam_hq_prompt_encoder": "SamHQPromptEncoder",
    "sam_hq_vision_model": "SamHQVision", "sam_vision_model": "SamVision", "sarvam_mla": "SarvamMLA", "sarvam_moe":
    "SarvamMoE", "seamless_m4t": "SeamlessM4T", "seamless_m4t_v2": "SeamlessM4Tv2", "seggpt": "SegGpt", "sew": "SEW",
    "sew-d": "SEWD", "shieldgemma2": "ShieldGemma2", "siglip2_text_model": "Siglip2Text", "siglip2_vision_model":
    "Siglip2Vision", "siglip_text_model": "SiglipText", "siglip_vision_model": "SiglipVision", "slanet": "SLANet",
    "slanext": "SLANeXt", "slanext_vision": "SLANeXtVision", "smollm3": "SmolLM3", "smolvlm": "SmolVLM",
    "smolvlm_vision": "SmolVLMVision", "speech_to_text": "Speech2Text", "speech_to_text_2": "Speech2Text2", "speecht5":
    "SpeechT5", "speecht5_hifigan": "SpeechT5HifiGan", "squeezebert": "SqueezeBert", "stablelm": "StableLm", "step3p5":
    "Step3p7Text", "step3p5_vision": "Step3p7Vision", "superglue": "SuperGlue", "superpoint": "SuperPoint",
    "swiftformer": "SwiftFormer", "swin2sr": "Swin2SR", "t5gemma": "T5Gemma", "t5gemma2": "T5Gemma2",
    "t5gemma2_decoder": "T5Gemma2Decoder", "t5gemma2_encoder": "T5Gemma2Encoder", "t5gemma2_text": "T5Gemma2Text",
    "textnet": "TextNet", "timesfm": "TimesFm", "timesfm2_5": "TimesFm2_5", "tipsv2_text_model": "Tipsv2Text",
    "tipsv2_vision_model": "Tipsv2Vision", "transfo-xl": "TransfoXL", "trocr": "TrOCR", "ultravbert": "UltraVBert",
    "umt5": "UMT5", "unispeech": "UniSpeech", "unispeech-sat": "UniSpeechSat", "univnet": "UnivNet",
    "unlimited_ocr_sam_vision_model": "UnlimitedOcrSamVision", "upernet": "UperNet", "uvdoc": "UVDoc", "uvdoc_backbone":
    "UVDocBackbone", "vaultgemma": "VaultGemma", "vibevoice": "VibeVoice", "vibevoice_acoustic_tokenizer":
    "VibeVoiceAcousticTokenizer", "vibevoice_acoustic_tokenizer_decoder": "VibeVoiceAcousticTokenizerDecoder",
    "vibevoice_acoustic_tokenizer_encoder": "VibeVoiceAcousticTokenizerEncoder", "vibevoice_asr": "VibeVoiceAsr",
    "vibevoice_diffusion": "VibeVoiceDiffusionHead", "videomae": "VideoMAE", "videoprism": "VideoPrism",
    "videoprism_text_model": "VideoPrismText", "videoprism_vision_model": "VideoPrismVision", "vipllava": "VipLlava",
    "vit": "ViT", "vit_hybrid": "ViTHybrid", "vit_mae": "ViTMAE", "vit_msn": "ViTMSN", "vitdet": "VitDet", "vitmatte":
    "VitMatte", "vitpose": "VitPose", "vitpose_backbone": "VitPoseBackbone", "vjepa2": "VJEPA2", "wav2vec2": "Wav2Vec2",
    "wav2vec2-bert": "Wav2Vec2Bert", "wav2vec2-conformer": "Wav2Vec2Conformer", "wavlm": "WavLM", "wavtokenizer":
    "WavTokenizer", "wavtokenizer_encoder": "WavTokenizerEncoder", "xclip": "XCLIP", "xclip_text_model": "XCLIPText",
    "xclip_vision_model": "XCLIPVision", "xglm": "XGLM", "xlm": "XLM", "xlm-prophetnet": "XLMProphetNet", "xlm-roberta":
    "XLMRoberta", "xlm-roberta-xl": "XLMRobertaXL", "xlnet": "XLNet", "xlstm": "xLSTM", "zoedepth": "ZoeDepth",
}
