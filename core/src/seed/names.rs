//! People's names: first names (with older generations' names) and surnames in groups that
//! reflect West Yorkshire's communities, with the languages each group may speak.

use rand::Rng;

use super::{SeedRng, phrase, pick};

pub(super) struct NameGroup {
    weight: u32,
    female: &'static [&'static str],
    female_older: &'static [&'static str],
    male: &'static [&'static str],
    male_older: &'static [&'static str],
    surnames: &'static [&'static str],
    female_surnames: &'static [&'static str],
    male_surnames: &'static [&'static str],
    pub(super) languages: &'static [&'static str],
}

const NAME_GROUPS: &[NameGroup] = &[
    NameGroup {
        weight: 56,
        female: &[
            "Emma",
            "Sarah",
            "Laura",
            "Gemma",
            "Rebecca",
            "Kirsty",
            "Hannah",
            "Jade",
            "Amy",
            "Chloe",
            "Charlotte",
            "Lauren",
            "Stacey",
            "Natalie",
            "Leanne",
            "Danielle",
            "Nicola",
            "Claire",
            "Katie",
            "Rachel",
            "Joanne",
            "Helen",
            "Lisa",
            "Michelle",
        ],
        female_older: &[
            "Margaret",
            "Jean",
            "Patricia",
            "Susan",
            "Christine",
            "Linda",
            "Barbara",
            "Carol",
            "Janet",
            "Maureen",
            "Pauline",
            "Sandra",
            "Elaine",
            "Brenda",
            "Dorothy",
            "Joan",
            "Sheila",
            "Valerie",
            "Irene",
            "Kathleen",
            "Doreen",
            "Shirley",
        ],
        male: &[
            "James", "Daniel", "Liam", "Ryan", "Craig", "Lee", "Jamie", "Thomas", "Matthew",
            "Adam", "Kieran", "Scott", "Dean", "Shaun", "Jordan", "Callum", "Nathan", "Carl",
            "Wayne", "Ben", "Mark", "Paul", "Darren", "Gary",
        ],
        male_older: &[
            "John", "David", "Michael", "Peter", "Brian", "Alan", "Keith", "Barry", "Graham",
            "Kenneth", "Trevor", "Derek", "Malcolm", "Roy", "Colin", "Geoffrey", "Raymond",
            "Terry", "Dennis", "Stuart", "Norman", "Frank",
        ],
        surnames: &[
            "Smith",
            "Jones",
            "Taylor",
            "Brown",
            "Wilson",
            "Walker",
            "Wood",
            "Robinson",
            "Thompson",
            "Wright",
            "Hall",
            "Green",
            "Clarke",
            "Jackson",
            "Holmes",
            "Shaw",
            "Atkinson",
            "Hartley",
            "Greenwood",
            "Sutcliffe",
            "Ackroyd",
            "Barraclough",
            "Haigh",
            "Lister",
            "Pickles",
            "Crowther",
            "Firth",
            "Illingworth",
            "Hirst",
            "Mitchell",
            "Dobson",
            "Naylor",
            "Brook",
            "Fletcher",
            "Marsden",
            "Kershaw",
            "Priestley",
            "Whiteley",
            "Hudson",
            "Lockwood",
            "Ormerod",
            "Armitage",
        ],
        female_surnames: &[],
        male_surnames: &[],
        languages: &[],
    },
    NameGroup {
        weight: 7,
        female: &[
            "Siobhan", "Niamh", "Aoife", "Bridget", "Fiona", "Morag", "Catriona", "Rhiannon",
            "Bethan", "Eileen", "Mairead", "Sinead",
        ],
        female_older: &[],
        male: &[
            "Sean", "Patrick", "Declan", "Ciaran", "Hamish", "Euan", "Gareth", "Rhys", "Owen",
            "Brendan", "Fergus", "Dermot",
        ],
        male_older: &[],
        surnames: &[
            "O'Brien",
            "Murphy",
            "Kelly",
            "Byrne",
            "McCarthy",
            "Doyle",
            "Quinn",
            "Campbell",
            "MacDonald",
            "Stewart",
            "Fraser",
            "Davies",
            "Evans",
            "Jenkins",
            "Griffiths",
            "Morgan",
            "Hughes",
            "Reilly",
        ],
        female_surnames: &[],
        male_surnames: &[],
        languages: &[],
    },
    NameGroup {
        weight: 10,
        female: &[
            "Aisha", "Fatima", "Nasreen", "Shazia", "Samina", "Rukhsana", "Parveen", "Zainab",
            "Amina", "Sadia", "Nazia", "Farzana", "Shabana", "Yasmin", "Nusrat", "Saima",
        ],
        female_older: &[],
        male: &[
            "Mohammed", "Imran", "Tariq", "Asif", "Khalid", "Zahid", "Shahid", "Naveed", "Amjad",
            "Bilal", "Usman", "Faisal", "Zubair", "Adnan", "Arshad", "Irfan",
        ],
        male_older: &[],
        surnames: &[
            "Khan", "Hussain", "Ahmed", "Ali", "Akhtar", "Iqbal", "Mahmood", "Shah", "Rashid",
            "Butt", "Aslam", "Saleem", "Javed", "Anwar",
        ],
        female_surnames: &["Bibi"],
        male_surnames: &[],
        languages: &["Urdu", "Punjabi", "Pahari-Pothwari"],
    },
    NameGroup {
        weight: 3,
        female: &[
            "Harpreet",
            "Manjit",
            "Kiran",
            "Rupinder",
            "Jasvinder",
            "Gurdeep",
            "Balbir",
            "Parminder",
        ],
        female_older: &[],
        male: &[
            "Harjit", "Gurpreet", "Sukhdev", "Jaswant", "Kuldip", "Amarjit", "Baljit", "Ranjit",
        ],
        male_older: &[],
        surnames: &["Gill", "Sandhu", "Bains", "Dhillon", "Sidhu", "Sohal"],
        female_surnames: &["Kaur"],
        male_surnames: &["Singh"],
        languages: &["Punjabi"],
    },
    NameGroup {
        weight: 2,
        female: &[
            "Priya", "Sunita", "Anjali", "Meena", "Rekha", "Pooja", "Hema", "Nisha",
        ],
        female_older: &[],
        male: &[
            "Rajesh", "Sanjay", "Vikram", "Arjun", "Rahul", "Anil", "Dinesh", "Mahesh",
        ],
        male_older: &[],
        surnames: &[
            "Patel", "Sharma", "Mistry", "Chauhan", "Parmar", "Joshi", "Solanki",
        ],
        female_surnames: &[],
        male_surnames: &[],
        languages: &["Gujarati", "Hindi"],
    },
    NameGroup {
        weight: 2,
        female: &[
            "Rahima", "Shirin", "Nasima", "Ruksana", "Halima", "Jahanara",
        ],
        female_older: &[],
        male: &["Abdul", "Jamal", "Rafiq", "Shamsul", "Aminul", "Kamal"],
        male_older: &[],
        surnames: &["Uddin", "Miah", "Rahman", "Choudhury", "Islam", "Hoque"],
        female_surnames: &["Begum"],
        male_surnames: &[],
        languages: &["Bengali", "Sylheti"],
    },
    NameGroup {
        weight: 4,
        female: &[
            "Marcia",
            "Janice",
            "Beverley",
            "Sonia",
            "Claudette",
            "Hyacinth",
            "Paulette",
            "Simone",
            "Tanisha",
            "Shanice",
        ],
        female_older: &[],
        male: &[
            "Winston", "Delroy", "Everton", "Leroy", "Clive", "Errol", "Desmond", "Marlon",
            "Tyrone", "Jerome",
        ],
        male_older: &[],
        surnames: &[
            "Campbell", "Williams", "Francis", "Thomas", "Grant", "Reid", "Henry", "Bailey",
            "Gordon", "Lewis", "Morris", "Edwards",
        ],
        female_surnames: &[],
        male_surnames: &[],
        languages: &[],
    },
    NameGroup {
        weight: 4,
        female: &[
            "Grace", "Blessing", "Chipo", "Ama", "Faith", "Ngozi", "Adaeze", "Fatuma", "Hodan",
            "Mercy", "Abena", "Selam",
        ],
        female_older: &[],
        male: &[
            "Emmanuel",
            "Kwame",
            "Chinedu",
            "Samuel",
            "Oluwaseun",
            "Kofi",
            "Abdi",
            "Tafadzwa",
            "Yusuf",
            "Tesfaye",
            "Tendai",
            "Dawit",
        ],
        male_older: &[],
        surnames: &[
            "Okafor",
            "Mensah",
            "Adeyemi",
            "Moyo",
            "Osei",
            "Nwosu",
            "Ncube",
            "Abdullahi",
            "Mohamed",
            "Haile",
            "Boateng",
            "Okonkwo",
        ],
        female_surnames: &[],
        male_surnames: &[],
        languages: &["Somali", "Tigrinya", "Shona", "Yoruba", "Amharic"],
    },
    NameGroup {
        weight: 5,
        female: &[
            "Agnieszka",
            "Katarzyna",
            "Magdalena",
            "Joanna",
            "Ewa",
            "Monika",
            "Justyna",
            "Ioana",
            "Elena",
            "Jana",
            "Lucie",
            "Zuzana",
        ],
        female_older: &[],
        male: &[
            "Piotr",
            "Tomasz",
            "Krzysztof",
            "Marek",
            "Pawel",
            "Lukasz",
            "Andrzej",
            "Michal",
            "Mihai",
            "Andrei",
            "Marius",
            "Jozef",
        ],
        male_older: &[],
        surnames: &[
            "Nowak",
            "Wozniak",
            "Mazur",
            "Krawczyk",
            "Kaczmarek",
            "Zajac",
            "Krol",
            "Wrobel",
            "Popescu",
            "Ionescu",
            "Horvath",
            "Balog",
            "Dudek",
        ],
        female_surnames: &[],
        male_surnames: &[],
        languages: &["Polish", "Romanian", "Slovak", "Czech"],
    },
    NameGroup {
        weight: 2,
        female: &["Mei", "Li Na", "Xiu Ying", "Wai Man", "Ying", "Hui"],
        female_older: &[],
        male: &["Wei", "Jun", "Ming", "Kwok Wai", "Chi Keung", "Hao"],
        male_older: &[],
        surnames: &[
            "Chen", "Wong", "Li", "Zhang", "Liu", "Cheung", "Lam", "Chan",
        ],
        female_surnames: &[],
        male_surnames: &[],
        languages: &["Cantonese", "Mandarin"],
    },
    NameGroup {
        weight: 3,
        female: &[
            "Layla", "Maryam", "Noor", "Rania", "Soraya", "Hana", "Zahra",
        ],
        female_older: &[],
        male: &["Omar", "Ahmad", "Hassan", "Karim", "Reza", "Dara", "Sami"],
        male_older: &[],
        surnames: &[
            "Abdullah", "Al-Sayed", "Karimi", "Rahimi", "Mustafa", "Saleh", "Haddad", "Amin",
        ],
        female_surnames: &[],
        male_surnames: &[],
        languages: &["Arabic", "Kurdish (Sorani)", "Farsi"],
    },
];

fn name_group(rng: &mut SeedRng) -> &'static NameGroup {
    let total: u32 = NAME_GROUPS.iter().map(|g| g.weight).sum();
    let mut roll = rng.random_range(0..total);
    for g in NAME_GROUPS {
        if roll < g.weight {
            return g;
        }
        roll -= g.weight;
    }
    &NAME_GROUPS[0]
}

pub(super) fn any_surname(rng: &mut SeedRng) -> &'static str {
    let group = name_group(rng);
    phrase(rng, group.surnames)
}

pub(super) struct Name {
    pub(super) first: &'static str,
    pub(super) female: bool,
    pub(super) full: String,
    pub(super) group: &'static NameGroup,
}

pub(super) fn person_name(rng: &mut SeedRng, age: i64) -> Name {
    let group = name_group(rng);
    let female = rng.random_bool(0.58);
    let older = age >= 55;
    let firsts = match (female, older) {
        (true, true) if !group.female_older.is_empty() => group.female_older,
        (true, _) => group.female,
        (false, true) if !group.male_older.is_empty() => group.male_older,
        (false, _) => group.male,
    };
    let first = *pick(rng, firsts);
    let gendered = if female {
        group.female_surnames
    } else {
        group.male_surnames
    };
    let surname = if !gendered.is_empty() && rng.random_bool(0.5) {
        *pick(rng, gendered)
    } else if rng.random_bool(0.08) {
        // Families mix: a partner's or parent's surname from anywhere.
        any_surname(rng)
    } else {
        *pick(rng, group.surnames)
    };
    Name {
        first,
        female,
        full: format!("{first} {surname}"),
        group,
    }
}
