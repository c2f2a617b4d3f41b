//! Small declarative macros shared by the domain and the store.
//!
//! `text_enum!` declares a fieldless enum whose values are stored (and sent) as snake_case
//! text, with `ALL`, `as_str`, `parse` and `Display`; `text_enum!(serde …)` also derives
//! serde with the same names. One definition, so every stored enum behaves the same.

/// Declares a fieldless enum stored as snake_case text, with `ALL`, `as_str` and `parse`.
macro_rules! text_enum {
    // `serde` first: also (de)serializes as the same snake_case text.
    (serde $($rest:tt)*) => {
        $crate::macros::text_enum! {
            #[derive(serde::Serialize, serde::Deserialize)]
            #[serde(rename_all = "snake_case")]
            $($rest)*
        }
    };
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored (and wire) text.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The value stored as `text`, if any.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use text_enum;
