//! Word pools for the synthetic data (all fictitious).

/// A district the generator places subjects in.
#[derive(Clone, Copy, Debug)]
pub(super) struct District {
    pub code: &'static str,
    pub city: &'static str,
    pub short_city: &'static str,
    pub district: &'static str,
    pub court: &'static str,
    pub area_code: &'static str,
}

const fn d(
    code: &'static str,
    city: &'static str,
    short_city: &'static str,
    district: &'static str,
    court: &'static str,
    area_code: &'static str,
) -> District {
    District {
        code,
        city,
        short_city,
        district,
        court,
        area_code,
    }
}

pub(super) const NINGBO: &[District] = &[
    d("330203", "宁波市", "宁波", "海曙区", "浙0203", "0574"),
    d("330205", "宁波市", "宁波", "江北区", "浙0205", "0574"),
    d("330206", "宁波市", "宁波", "北仑区", "浙0206", "0574"),
    d("330212", "宁波市", "宁波", "鄞州区", "浙0212", "0574"),
];
pub(super) const HANGZHOU: &[District] = &[
    d("330102", "杭州市", "杭州", "上城区", "浙0102", "0571"),
    d("330105", "杭州市", "杭州", "拱墅区", "浙0105", "0571"),
    d("330106", "杭州市", "杭州", "西湖区", "浙0106", "0571"),
    d("330108", "杭州市", "杭州", "滨江区", "浙0108", "0571"),
];
/// Abolished Hangzhou codes (merged in 2021) still found on ID numbers.
pub(super) const HANGZHOU_OLD: &[District] = &[
    d("330103", "杭州市", "杭州", "下城区", "浙0103", "0571"),
    d("330104", "杭州市", "杭州", "江干区", "浙0104", "0571"),
];
pub(super) const ZHEJIANG_OTHER: &[District] = &[
    d("330302", "温州市", "温州", "鹿城区", "浙0302", "0577"),
    d("330602", "绍兴市", "绍兴", "越城区", "浙0602", "0575"),
    d("330903", "舟山市", "舟山", "普陀区", "浙0903", "0580"),
    d("330502", "湖州市", "湖州", "吴兴区", "浙0502", "0572"),
];
pub(super) const XIAMEN: &[District] = &[
    d("350203", "厦门市", "厦门", "思明区", "闽0203", "0592"),
    d("350206", "厦门市", "厦门", "湖里区", "闽0206", "0592"),
];

pub(super) const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "罗", "郑", "梁", "谢", "宋", "唐", "韩", "冯", "邓", "曹", "彭", "曾", "蒋", "蔡",
    "叶", "程",
];
pub(super) const COMPOUND_SURNAMES: &[&str] = &["欧阳", "司马", "诸葛", "上官", "慕容", "令狐"];
pub(super) const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超",
    "秀", "霞", "平", "刚", "桂", "英", "华", "建", "国", "文", "辉", "玲", "燕", "晨", "浩", "宇",
    "欣", "怡",
];
pub(super) const TRADE_WORDS: &[&str] = &[
    "恒达", "华信", "金桥", "宏远", "鑫源", "瑞丰", "天成", "海润", "博远", "永盛", "嘉禾", "新创",
    "东方", "明德", "祥和", "锦程", "晨光", "蓝海", "汇通", "泰和", "远航", "宸宇", "致远", "隆兴",
];
pub(super) const INDUSTRIES: &[&str] = &[
    "国际贸易",
    "电子科技",
    "食品",
    "建设工程",
    "物流",
    "机械制造",
    "信息技术",
    "餐饮管理",
    "化工",
    "医药",
    "纺织",
    "港口服务",
];
pub(super) const FORMS: &[(&str, &str)] = &[
    ("有限公司", "有限责任公司(自然人投资或控股)"),
    ("有限公司", "有限责任公司(自然人独资)"),
    ("股份有限公司", "股份有限公司(非上市、自然人投资或控股)"),
];
pub(super) const ROADS: &[&str] = &[
    "中山路",
    "解放路",
    "人民路",
    "江南大道",
    "文三路",
    "湖滨路",
    "建设路",
    "环城北路",
];
pub(super) const SCOPES: &[&str] = &[
    "一般项目：货物进出口；技术进出口；日用品销售。",
    "许可项目：食品经营；餐饮服务。一般项目：食品销售(仅销售预包装食品)。",
    "一般项目：软件开发；信息系统集成服务；技术服务、技术开发、技术咨询。",
    "许可项目：建设工程施工；道路货物运输(不含危险货物)。",
    "一般项目：通用设备制造(不含特种设备制造)；机械零件、零部件加工。",
];
/// Licence name and its 双公示 category.
pub(super) const LICENSES: &[(&str, &str)] = &[
    ("食品经营许可证", "普通"),
    ("道路运输经营许可证", "普通"),
    ("建筑业企业资质证书", "认可"),
    ("排污许可证", "普通"),
    ("危险化学品经营许可证", "特许"),
    ("对外贸易经营者备案登记", "登记"),
    ("药品经营许可证", "核准"),
    ("户外广告设置许可", "其他"),
];
/// Penalty type, whether it carries a fine, basis, content, authority kind.
pub(super) const PENALTIES: &[(&str, bool, &str, &str, &str)] = &[
    (
        "警告",
        false,
        "《中华人民共和国食品安全法》第一百二十六条第一款",
        "未按规定查验供货者许可证和食品合格证明文件",
        "市场监督管理局",
    ),
    (
        "罚款",
        true,
        "《中华人民共和国广告法》第五十五条第一款",
        "发布虚假广告，欺骗、误导消费者",
        "市场监督管理局",
    ),
    (
        "罚款;没收违法所得",
        true,
        "《中华人民共和国食品安全法》第一百二十四条第一款",
        "经营超过保质期的食品",
        "市场监督管理局",
    ),
    (
        "罚款",
        true,
        "《中华人民共和国消防法》第六十条第一款",
        "消防设施、器材未保持完好有效",
        "消防救援大队",
    ),
    (
        "责令停产停业",
        false,
        "《中华人民共和国安全生产法》第九十九条",
        "未采取措施消除事故隐患",
        "应急管理局",
    ),
];
pub(super) const REDLISTS: &[(&str, &str, &str)] = &[
    ("纳税信用A级纳税人名单", "年度纳税信用评价为A级", "税务局"),
    (
        "守合同重信用企业名单",
        "连续两年公示守合同重信用",
        "市场监督管理局",
    ),
];
pub(super) const BLACKLISTS: &[(&str, &str, &str)] = &[
    (
        "严重违法失信企业名单",
        "因提交虚假材料取得登记被撤销",
        "市场监督管理局",
    ),
    ("重大税收违法失信主体名单", "虚开增值税专用发票", "税务局"),
    (
        "拖欠农民工工资失信联合惩戒对象名单",
        "拖欠农民工工资数额较大",
        "人力资源和社会保障局",
    ),
];
pub(super) const MEASURES: &[&str] = &[
    "限制参与政府采购、工程招投标；限制享受财政补贴",
    "优先办理行政审批；减少日常监督检查频次",
];
pub(super) const PERFORMANCE: &[&str] = &["全部未履行", "部分履行"];
pub(super) const CIRCUMSTANCES: &[&str] = &[
    "有履行能力而拒不履行生效法律文书确定义务",
    "违反财产报告制度",
    "以虚假诉讼、虚假仲裁或者以隐匿、转移财产等方法规避执行",
];
pub(super) const ABNORMAL_REASONS: &[&str] = &[
    "未依照《企业信息公示暂行条例》第八条规定的期限公示年度报告",
    "通过登记的住所或者经营场所无法联系",
];
pub(super) const ABNORMAL_REMOVALS: &[&str] =
    &["补报未报年份的年度报告并公示", "依法办理住所变更登记"];
pub(super) const COMMITMENT_KINDS: &[&str] = &["审批替代型", "信用修复型", "主动型", "行业自律型"];
pub(super) const COMMITMENT_CONTENTS: &[&str] = &[
    "依法诚信经营，主动接受社会监督，如有违法违规行为自愿接受惩戒",
    "按期履行行政处罚决定，不再发生同类违法行为",
    "申报材料真实有效，在承诺期限内补齐相关材料",
];
pub(super) const COMMITMENT_STATUS: &[&str] = &["履约", "未履约", "履约中"];
