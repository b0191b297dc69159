"""MARA's 国家农产品质量安全追溯管理信息平台: weekly GBK CSV exports (quarantine, slaughter, 合格证, 产地准出)."""
