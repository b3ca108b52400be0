//! Messages in the five languages of the deployed API: en, zh, zh-Hant, ja, vi.

/// A supported response language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    /// English (default).
    #[default]
    En,
    /// Simplified Chinese.
    Zh,
    /// Traditional Chinese.
    ZhHant,
    /// Japanese.
    Ja,
    /// Vietnamese.
    Vi,
}

impl Lang {
    /// The tag, as the API documents it.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
            Lang::ZhHant => "zh-Hant",
            Lang::Ja => "ja",
            Lang::Vi => "vi",
        }
    }

    /// Parse one language tag (case-insensitive; region subtags map to the closest language).
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let t = tag.trim().to_ascii_lowercase();
        let mut parts = t.split(['-', '_']);
        let primary = parts.next().unwrap_or("");
        match primary {
            "en" => Some(Lang::En),
            "ja" => Some(Lang::Ja),
            "vi" => Some(Lang::Vi),
            "zh" => {
                let rest: Vec<&str> = parts.collect();
                if rest
                    .iter()
                    .any(|s| matches!(*s, "hant" | "tw" | "hk" | "mo"))
                {
                    Some(Lang::ZhHant)
                } else {
                    Some(Lang::Zh)
                }
            }
            _ => None,
        }
    }

    /// `Accept-Language`: the first supported tag in the order given (q-values other than 0 are
    /// not used for ordering; `q=0` entries are skipped); English when none is supported.
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let Some(h) = header else {
            return Lang::En;
        };
        for item in h.split(',').take(32) {
            let mut fields = item.split(';');
            let tag = fields.next().unwrap_or("");
            let refused = fields.any(|p| {
                let p = p.trim();
                p.strip_prefix("q=")
                    .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|v| v <= 0.0))
            });
            if refused {
                continue;
            }
            if let Some(l) = Lang::from_tag(tag) {
                return l;
            }
        }
        Lang::En
    }
}

/// The `message` of a response wrapper for `code`.
pub fn message(code: &str, lang: Lang) -> &'static str {
    use Lang::*;
    match (code, lang) {
        ("2000", _) => "SUCCESS",
        ("VALIDATION.INVALID_PARAMETER", En) => "Invalid request parameters",
        ("VALIDATION.INVALID_PARAMETER", Zh) => "请求参数无效",
        ("VALIDATION.INVALID_PARAMETER", ZhHant) => "請求參數無效",
        ("VALIDATION.INVALID_PARAMETER", Ja) => "リクエストパラメータが無効です",
        ("VALIDATION.INVALID_PARAMETER", Vi) => "Tham số yêu cầu không hợp lệ",
        ("SECURE_CHANNEL.INVALID_PAYLOAD", En) => "Invalid secure channel payload",
        ("SECURE_CHANNEL.INVALID_PAYLOAD", Zh) => "安全通道数据无效",
        ("SECURE_CHANNEL.INVALID_PAYLOAD", ZhHant) => "安全通道資料無效",
        ("SECURE_CHANNEL.INVALID_PAYLOAD", Ja) => "セキュアチャネルのデータが無効です",
        ("SECURE_CHANNEL.INVALID_PAYLOAD", Vi) => "Dữ liệu kênh bảo mật không hợp lệ",
        ("SECURE_CHANNEL.UNKNOWN_KEY_ID", En) => "Unknown server key",
        ("SECURE_CHANNEL.UNKNOWN_KEY_ID", Zh) => "未知的服务器密钥",
        ("SECURE_CHANNEL.UNKNOWN_KEY_ID", ZhHant) => "未知的伺服器金鑰",
        ("SECURE_CHANNEL.UNKNOWN_KEY_ID", Ja) => "不明なサーバー鍵です",
        ("SECURE_CHANNEL.UNKNOWN_KEY_ID", Vi) => "Khóa máy chủ không xác định",
        ("SECURE_CHANNEL.SESSION_NOT_FOUND", En) => "Secure channel session not found or expired",
        ("SECURE_CHANNEL.SESSION_NOT_FOUND", Zh) => "安全通道会话不存在或已过期",
        ("SECURE_CHANNEL.SESSION_NOT_FOUND", ZhHant) => "安全通道工作階段不存在或已過期",
        ("SECURE_CHANNEL.SESSION_NOT_FOUND", Ja) => {
            "セキュアチャネルのセッションが見つからないか期限切れです"
        }
        ("SECURE_CHANNEL.SESSION_NOT_FOUND", Vi) => {
            "Không tìm thấy phiên kênh bảo mật hoặc phiên đã hết hạn"
        }
        ("AUTH.SESSION_NOT_FOUND", En) => "Initialization session not found or expired",
        ("AUTH.SESSION_NOT_FOUND", Zh) => "初始化会话不存在或已过期",
        ("AUTH.SESSION_NOT_FOUND", ZhHant) => "初始化工作階段不存在或已過期",
        ("AUTH.SESSION_NOT_FOUND", Ja) => "初期化セッションが見つからないか期限切れです",
        ("AUTH.SESSION_NOT_FOUND", Vi) => "Không tìm thấy phiên khởi tạo hoặc phiên đã hết hạn",
        ("RATE_LIMIT.EXCEEDED", En) => "Too many requests, please try again later",
        ("RATE_LIMIT.EXCEEDED", Zh) => "请求过于频繁，请稍后再试",
        ("RATE_LIMIT.EXCEEDED", ZhHant) => "請求過於頻繁，請稍後再試",
        ("RATE_LIMIT.EXCEEDED", Ja) => "リクエストが多すぎます。しばらくしてから再試行してください",
        ("RATE_LIMIT.EXCEEDED", Vi) => "Quá nhiều yêu cầu, vui lòng thử lại sau",
        ("SYSTEM.NOT_FOUND", En) => "Resource not found",
        ("SYSTEM.NOT_FOUND", Zh) => "资源不存在",
        ("SYSTEM.NOT_FOUND", ZhHant) => "資源不存在",
        ("SYSTEM.NOT_FOUND", Ja) => "リソースが見つかりません",
        ("SYSTEM.NOT_FOUND", Vi) => "Không tìm thấy tài nguyên",
        ("SYSTEM.METHOD_NOT_ALLOWED", En) => "Method not allowed",
        ("SYSTEM.METHOD_NOT_ALLOWED", Zh) => "不允许的请求方法",
        ("SYSTEM.METHOD_NOT_ALLOWED", ZhHant) => "不允許的請求方法",
        ("SYSTEM.METHOD_NOT_ALLOWED", Ja) => "許可されていないメソッドです",
        ("SYSTEM.METHOD_NOT_ALLOWED", Vi) => "Phương thức không được phép",
        ("SYSTEM.SERVICE_UNAVAILABLE", En) => "Service temporarily unavailable",
        ("SYSTEM.SERVICE_UNAVAILABLE", Zh) => "服务暂时不可用",
        ("SYSTEM.SERVICE_UNAVAILABLE", ZhHant) => "服務暫時無法使用",
        ("SYSTEM.SERVICE_UNAVAILABLE", Ja) => "サービスは一時的に利用できません",
        ("SYSTEM.SERVICE_UNAVAILABLE", Vi) => "Dịch vụ tạm thời không khả dụng",
        ("SYSTEM.REQUEST_TIMEOUT", En) => "The request was not received in time",
        ("SYSTEM.REQUEST_TIMEOUT", Zh) => "请求接收超时",
        ("SYSTEM.REQUEST_TIMEOUT", ZhHant) => "請求接收逾時",
        ("SYSTEM.REQUEST_TIMEOUT", Ja) => "リクエストの受信がタイムアウトしました",
        ("SYSTEM.REQUEST_TIMEOUT", Vi) => "Không nhận được yêu cầu kịp thời",
        ("SYSTEM.BAD_GATEWAY", En) => "The upstream service failed to answer",
        ("SYSTEM.BAD_GATEWAY", Zh) => "上游服务未能响应",
        ("SYSTEM.BAD_GATEWAY", ZhHant) => "上游服務未能回應",
        ("SYSTEM.BAD_GATEWAY", Ja) => "上流サービスが応答できませんでした",
        ("SYSTEM.BAD_GATEWAY", Vi) => "Dịch vụ phía sau không phản hồi được",
        ("SYSTEM.GATEWAY_TIMEOUT", En) => "The upstream service did not answer in time",
        ("SYSTEM.GATEWAY_TIMEOUT", Zh) => "上游服务响应超时",
        ("SYSTEM.GATEWAY_TIMEOUT", ZhHant) => "上游服務回應逾時",
        ("SYSTEM.GATEWAY_TIMEOUT", Ja) => "上流サービスの応答がタイムアウトしました",
        ("SYSTEM.GATEWAY_TIMEOUT", Vi) => "Dịch vụ phía sau không phản hồi kịp thời",
        ("SYSTEM.PAYLOAD_TOO_LARGE", En) => "The request body is too large",
        ("SYSTEM.PAYLOAD_TOO_LARGE", Zh) => "请求内容过大",
        ("SYSTEM.PAYLOAD_TOO_LARGE", ZhHant) => "請求內容過大",
        ("SYSTEM.PAYLOAD_TOO_LARGE", Ja) => "リクエストの本文が大きすぎます",
        ("SYSTEM.PAYLOAD_TOO_LARGE", Vi) => "Nội dung yêu cầu quá lớn",
        (_, En) => "Internal server error",
        (_, Zh) => "服务器内部错误",
        (_, ZhHant) => "伺服器內部錯誤",
        (_, Ja) => "サーバー内部エラー",
        (_, Vi) => "Lỗi máy chủ nội bộ",
    }
}

/// A problem with one field or header, for the `data` of `VALIDATION.INVALID_PARAMETER`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The field is missing.
    Required,
    /// A field the endpoint does not define.
    Unknown,
    /// The field appears twice.
    Duplicate,
    /// The field is not a string.
    NotString,
    /// Length outside `min..=max` characters.
    Length(usize, usize),
    /// The body is not JSON.
    NotJson,
    /// The body is JSON but not an object.
    NotObject,
    /// A header with a wrong value; the expected value is given.
    HeaderValue(&'static str),
    /// More fields the endpoint does not define than the answer lists (their number).
    MoreUnknown(usize),
}

/// The localized text of a problem.
pub fn problem(p: Problem, lang: Lang) -> String {
    use Lang::*;
    match (p, lang) {
        (Problem::Required, En) => "is required".into(),
        (Problem::Required, Zh) => "为必填项".into(),
        (Problem::Required, ZhHant) => "為必填項".into(),
        (Problem::Required, Ja) => "必須項目です".into(),
        (Problem::Required, Vi) => "là bắt buộc".into(),
        (Problem::Unknown, En) => "is not an allowed field".into(),
        (Problem::Unknown, Zh) => "不是允许的字段".into(),
        (Problem::Unknown, ZhHant) => "不是允許的欄位".into(),
        (Problem::Unknown, Ja) => "許可されていないフィールドです".into(),
        (Problem::Unknown, Vi) => "không phải là trường được phép".into(),
        (Problem::Duplicate, En) => "appears more than once".into(),
        (Problem::Duplicate, Zh) => "重复出现".into(),
        (Problem::Duplicate, ZhHant) => "重複出現".into(),
        (Problem::Duplicate, Ja) => "が重複しています".into(),
        (Problem::Duplicate, Vi) => "xuất hiện nhiều lần".into(),
        (Problem::NotString, En) => "must be a string".into(),
        (Problem::NotString, Zh) => "必须是字符串".into(),
        (Problem::NotString, ZhHant) => "必須是字串".into(),
        (Problem::NotString, Ja) => "文字列である必要があります".into(),
        (Problem::NotString, Vi) => "phải là chuỗi".into(),
        (Problem::Length(a, b), En) => format!("length must be between {a} and {b} characters"),
        (Problem::Length(a, b), Zh) => format!("长度必须在 {a} 到 {b} 个字符之间"),
        (Problem::Length(a, b), ZhHant) => format!("長度必須在 {a} 到 {b} 個字元之間"),
        (Problem::Length(a, b), Ja) => format!("{a}〜{b} 文字である必要があります"),
        (Problem::Length(a, b), Vi) => format!("độ dài phải từ {a} đến {b} ký tự"),
        (Problem::NotJson, En) => "is not valid JSON".into(),
        (Problem::NotJson, Zh) => "不是有效的 JSON".into(),
        (Problem::NotJson, ZhHant) => "不是有效的 JSON".into(),
        (Problem::NotJson, Ja) => "有効な JSON ではありません".into(),
        (Problem::NotJson, Vi) => "không phải JSON hợp lệ".into(),
        (Problem::NotObject, En) => "must be a JSON object".into(),
        (Problem::NotObject, Zh) => "必须是 JSON 对象".into(),
        (Problem::NotObject, ZhHant) => "必須是 JSON 物件".into(),
        (Problem::NotObject, Ja) => "JSON オブジェクトである必要があります".into(),
        (Problem::NotObject, Vi) => "phải là đối tượng JSON".into(),
        (Problem::HeaderValue(v), En) => format!("must be {v}"),
        (Problem::HeaderValue(v), Zh) => format!("必须为 {v}"),
        (Problem::HeaderValue(v), ZhHant) => format!("必須為 {v}"),
        (Problem::HeaderValue(v), Ja) => format!("{v} である必要があります"),
        (Problem::HeaderValue(v), Vi) => format!("phải là {v}"),
        (Problem::MoreUnknown(n), En) => format!("has {n} more fields that are not allowed"),
        (Problem::MoreUnknown(n), Zh) => format!("还有 {n} 个不允许的字段"),
        (Problem::MoreUnknown(n), ZhHant) => format!("還有 {n} 個不允許的欄位"),
        (Problem::MoreUnknown(n), Ja) => {
            format!("ほかに許可されていないフィールドが {n} 個あります")
        }
        (Problem::MoreUnknown(n), Vi) => format!("còn {n} trường khác không được phép"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_first_supported() {
        assert_eq!(Lang::from_accept_language(None), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("fr, ja;q=0.5")), Lang::Ja);
        assert_eq!(Lang::from_accept_language(Some("zh-TW")), Lang::ZhHant);
        assert_eq!(Lang::from_accept_language(Some("zh-Hant-HK")), Lang::ZhHant);
        assert_eq!(Lang::from_accept_language(Some("zh-CN,en")), Lang::Zh);
        assert_eq!(Lang::from_accept_language(Some("vi;q=0, en")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("de")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("VI-vn")), Lang::Vi);
    }

    #[test]
    fn every_language_has_every_message() {
        for l in [Lang::En, Lang::Zh, Lang::ZhHant, Lang::Ja, Lang::Vi] {
            for c in [
                "VALIDATION.INVALID_PARAMETER",
                "SECURE_CHANNEL.INVALID_PAYLOAD",
                "SECURE_CHANNEL.SESSION_NOT_FOUND",
                "AUTH.SESSION_NOT_FOUND",
                "RATE_LIMIT.EXCEEDED",
                "SYSTEM.REQUEST_TIMEOUT",
                "SYSTEM.SERVICE_UNAVAILABLE",
                "SYSTEM.BAD_GATEWAY",
                "SYSTEM.GATEWAY_TIMEOUT",
                "SYSTEM.PAYLOAD_TOO_LARGE",
            ] {
                assert!(!message(c, l).is_empty());
                assert_ne!(message(c, l), message("SYSTEM.INTERNAL_ERROR", l), "{c}");
            }
        }
        assert_eq!(
            message("VALIDATION.INVALID_PARAMETER", Lang::En),
            "Invalid request parameters"
        );
    }
}
