"""The #PeerTalk demo issue (../shared/seeds/004_*.txt) as a draft a coordinator can preview and send."""
from __future__ import annotations

from chalicelib import issues
from chalicelib.settings import get_settings

INTRODUCTION = (
    "Welcome to this month's #PeerTalk, the newsletter of the Side by Side peer support network. "
    "This issue spotlights peer support for parents, untangles the many names peer support goes by, "
    "and asks for your help with a video and with real-life stories.\n\n"
    "*Improving mental health through peer support.*"
)

SECTIONS = [
    {
        "heading": 'Peer support video',
        "body": (
            'We are looking to make a video to showcase why peer support is so important.\n'
            '\n'
            'This will be for our commissioners to see, as well as to raise the awareness of what peer support is, the different forms it can take and the impact and benefits it can have for:\n'
            '\n'
            '- Service users\n'
            '- Peer workers\n'
            '- Organisations\n'
            '\n'
            'In order for our video to be meaningful, we are looking to film real people to talk about their experiences of peer support.\n'
            '\n'
            'We are interested in filming local people who have something to say about peer support.\n'
            '\n'
            'This could be individuals who have either accessed peer support themselves, and/or provided peer support to others.\n'
            '\n'
            'It includes current or past service users, peer workers (paid or voluntary) and managers, supervisors and project co-ordinators from groups and organisations delivering a peer support service.\n'
            '\n'
            'If you or your organisation is interested in spreading the word about peer support and featuring in our video, drop us a line on 0208 964 1333 option 7 or at [zoe.copeland@kcmind.org.uk](mailto:zoe.copeland@kcmind.org.uk) for more information.\n'
        ),
        "cta_label": 'Email Zoe about the video', "cta_url": 'mailto:zoe.copeland@kcmind.org.uk',
    },
    {
        "heading": 'Types of peer support',
        "body": (
            'Peer support is essentially people helping each other through a shared experience.\n'
            '\n'
            "For Side by Side we are looking at peer support with a mental health / emotional wellbeing focus, even if the organisation's focus is something different.\n"
            '\n'
            'Sometimes peer support happens incidentally, where people just happen to be in the same place and end up talking about mental health and coping which becomes a supportive conversation.\n'
            '\n'
            'Other times peer support is intentionally provided through an organisation, and there are many permutations peer support can take:\n'
            '\n'
            '- **1 to 1 peer support**\n'
            '- **Peer support groups**\n'
            '\n'
            '**1 to 1 peer support** ~ is when a peer worker supports an individual using their personal experience of a similar journey. The peer worker is usually further along in their recovery.\n'
            '\n'
            '**Peer support groups** ~ are where people with similar experiences come together to support one another.\n'
            '\n'
            'The way peer support groups are structured and run can vary too; they can be:\n'
            '\n'
            '**Facilitated peer support** ~ When there is a designated facilitator to the group who is there to manage the timing, content and agenda of the group.\n'
            '\n'
            '**Peer-facilitated** ~ When the facilitator(s) of the group have their own personal experience which they use in their role. They may or may not receive support from the group itself.\n'
            '\n'
            '**Peer Led** ~ This is when a group or service is led and organised by people with personal experience of mental health difficulties who will most likely use these experiences in their work. The peer support is not necessarily facilitated, but can be.\n'
            '\n'
            'The responsibilities of a peer worker can vary considerably depending on the nature of the peer work role...\n'
            '\n'
            '- **Peer support** ~ varied support according to support needs\n'
            '- **Peer coaching** ~ short, goal focused support\n'
            '- **Peer mentoring** ~ longer term support to make positive changes\n'
            "- **Peer advocacy** ~ support to ensure one's voice is heard at meetings and about care received.\n"
            '- **Peer brokerage** ~ support to work out how to spend a personal budget\n'
            '\n'
            "There are other peer working roles which involve sharing and using one's personal experience of mental health difficulties within the role, but which aren't peer support per se, as the role is not directly supportive. Some examples of these roles are:\n"
            '\n'
            '- **Peer training**\n'
            '- **Peer research**\n'
            '- **Co-production**\n'
        ),
    },
    {
        "heading": 'Spotlight on parents',
        "body": (
            "For this article, the term 'parents' refers to anyone who has started to have a child.\n"
            '\n'
            'This could be a couple, a single parent, someone who adopted a child, someone who has lost a child, someone who is unable to see their child, someone whose child was never born, or born sleeping.\n'
            '\n'
            'Parents may experience mental health difficulties themselves or have a child who experiences mental health difficulties.\n'
            '\n'
            "'Up to 20% of women develop a mental health problem during pregnancy or within a year of giving birth.'\n"
            '\n'
            '*Centre for Mental Health*\n'
            '\n'
            'There are many experiences specific to being a parent that can be difficult, and around which it can be beneficial to seek support from others who are/have been in a similar situation, for example:\n'
            '\n'
            '- Peri-natal mental health problems\n'
            '- Parenting with mental health difficulties\n'
            '- Single parenting\n'
            "- Parenting a child in a culture different to one's own\n"
            '- Having a premature baby\n'
            '- Miscarriage\n'
            '- Stillbirth\n'
            '- Losing a child\n'
            '- Having a child with a disability\n'
            '- Having a child with mental health difficulties\n'
            '\n'
            'Perinatal mental health difficulties ~ Many mothers experience mental health difficulties during pregnancy or shortly after. These can include post-natal depression (PND) and postpartum psychosis.\n'
            '\n'
            "'Suicide is a leading cause of death for women during pregnancy and in the year after giving birth.'\n"
            '\n'
            '*Centre for Mental Health*\n'
            '\n'
            'However this is not exclusive to women; research from the NCT found that 38% of new fathers are concerned about their mental health, that 1 in 10 dads experiences PND and that fathers are more likely to experience depression 3 – 6 months after their baby is born. Read more about PND in dads here.\n'
            '\n'
            '### Parenting with mental health difficulties\n'
            '\n'
            "~ Balancing the role of parent and partner and worker can be a difficult task, and if the child's needs are always put above theirs, the parents' needs can be neglected, leading to a worsening of their mental wellbeing.\n"
            '\n'
            'Some parents fear that seeking help for their mental health / emotional wellbeing will bring their parenting into question and that they could risk losing their child(ren). This can be a huge barrier to these individuals receiving vital support for both themselves and their families.\n'
            '\n'
            "'There is so much taboo still as you worry people will think you're not a fit mum. In fact I think you try extra hard to be a good parent.'\n"
            '\n'
            '*Centre for Mental Health*\n'
            '\n'
            'If you are parenting with a mental health difficulty, Mind has helpful information here. If you are worried that your own mental health difficulties are affecting your child, Young Minds has information here.\n'
            '\n'
            "**Single parenting** ~ Parenting alone can lead to isolation if the parent doesn't have the opportunity to socialise. Without another parent to share the practical and emotional load, and to problem solve with, single parenting can become a tiring and lonely experience.\n"
            '\n'
            "Many parents worry about their children's education. Education systems and teaching styles often differ considerably from those in their home countries, and this combined with language difficulties can disadvantage refugee children.\n"
            '\n'
            "*'Improving mental health support for refugee communities – an advocacy approach'*\n"
            'National Mind, 2009\n'
            '\n'
            "**Parenting a child in a culture different to one's own** ~ It can be difficult to raise a child with values that conflict with those of the society / community one lives in. When expectations at home and at school clash, this can make parenting difficult.\n"
            '\n'
            "This difficulty is further enhanced if the parent is not fluent in the language of the country they are living in as communication with the child's school and other community services and support becomes very difficult.\n"
            '\n'
            "**Having a premature baby** ~ Giving birth prematurely can lead to a lot of stress; from not being able to touch one's baby, or take it home, to legitimate worries about its health. This can be exacerbated when there are other children at home who need care, attention and looking after whilst the new baby stays in hospital. This can be an extremely stressful time for both parents.\n"
            '\n'
            "**'Good peer support can help parents cope with the chaos of life with a new baby!'**\n"
            '\n'
            '*Caroline Flint, NCT*\n'
            '\n'
            '**Having a child with a disability** ~ Coping with the extra needs of a baby/child with a disability and the process of getting these identified, diagnosed and finding appropriate services can add stress to parenting. Tending to the extra needs of a child with a disability can lead parents to become isolated. Some cultures hold stigma surrounding disability which may mean parents feel alienated from their community.\n'
            '\n'
            '**Miscarriage, stillbirth and losing a child** ~ These can be very traumatic and in some instances feel socially taboo which can make the journey feel a lonely one. Bereavement is usually a difficult experience and this can be heightened if the loss is of a child, whether anticipated or sudden.\n'
            '\n'
            'Infertility can also be a stressful experience for all involved, especially as those around them may be having children. Involuntary childlessness can lead to isolation in addition to coming to terms with devastating news.\n'
            '\n'
            '### Local peer support for parents...\n'
            '\n'
            'There is quite a lot of peer support available for parents, some with specific foci and others more general:\n'
            '\n'
            'Full of Life supports parent carers of disabled children in Kensington and Chelsea, including through parent forums.\n'
            '\n'
            'Chelsea and Westminster Hospital\n'
            'NHS Foundation Trust\n'
            '\n'
            "Chelsea & Westminster hospital's Neonatal Unit holds a discussion group for parents twice a week to meet, ask questions and seek support.\n"
            '\n'
            '**Gingerbread**\n'
            'Single parents, equal families\n'
            '\n'
            'Run by single parent volunteers, Gingerbread groups are a space for local single mums and dads to support each other and share the highs and lows of parenting, or just to have a cuppa and a chat while their children play. Register here to find out more details about the West London group.\n'
            '\n'
            ' **families together**\n'
            'London | Support group for parents of gay children\n'
            '\n'
            "Families Together's meetings for parents and other family members of Lesbian, Gay, Bisexual and Trans people are held twice a month in London ~ in Battersea and Kings Cross.\n"
            '\n'
            '**Tamba**\n'
            'TWINS & MULTIPLE BIRTHS ASSOCIATION\n'
            '\n'
            'Tamba provide online, telephone and face to face peer support for various issues arising from having twins/multiple births, including bereavement, special needs, breastfeeding and single parenting.\n'
            '\n'
            "**'I benefit from knowing I'm not alone in some very difficult trying times! And take comfort in knowing other women in my situation have coped! It gives me hope!'**\n"
            '\n'
            "*Feedback on Tamba's One Parent Family Facebook page*\n"
            '\n'
            "PND & Me uses the #PNDchat hashtag on Twitter for a peer support live tweet-chat about post-natal depression Wednesday 8pm – 9pm. They specify that it's checked daily but not monitored 24/7.\n"
            '\n'
            "**'I cannot express how reassuring it is to meet up with people who are or have been going through the same things as me. To share experiences, problems, solutions; good times and bad times.'**\n"
            '\n'
            '*Gingerbread group member*\n'
            '\n'
            'Infertility Network UK support people who have difficulty conceiving and have helplines staffed by volunteers who share this experience.\n'
            '\n'
            "Their More to Life service for those facing involuntary childlessness have a 'Helpful Members' network of people who have faced the same situation providing peer support.\n"
            '\n'
            'Bliss supports parents with babies who are born premature or sick. The Bliss Buddy scheme which pairs parents with a premature or sick baby with parents who have previously been through such an experience, who provide peer support through phone or email. Other peer support is available via their online message board and reading family stories in their magazine Little Bliss.\n'
            '\n'
            'Cocoon provide peer support for mothers experiencing Post Natal Depression. The groups are based in Camden, West Hampstead and Waterloo.\n'
            '\n'
            'The National Childbirth Trust (NCT) run groups where parents can meet others in similar situations and facing similar challenges.\n'
            '\n'
            "Bumps, Babies and Beyond meet in Notting Hill and Queen's Park. There are also several specific online support groups; for Dads, for those planning a home birth, for those having or about to have a caesarean section, and for those who have had a pre-term baby.\n"
            '\n'
            'West London Action for Children provides support for children in need and their families. They offer several groups for parents, with 4 peer support groups where parents can learn and gain confidence from each other by sharing experiences and ideas. The groups are categorised by the age of the children; 6 months – 6 years, 5 – 12 years, 13 – 18 years and a group for those who struggle to maintain positive influence for their teens.\n'
            '\n'
            '"It is a great place to make new friends, share your experiences with people going through the same things, have a reason to get out of the house if everything seems too much or overwhelming or if you just need to socialise with people in your local area." ~ NCT re *Bumps & Babies*\n'
            '\n'
            'The Child Death Helpline is staffed by volunteer parents who have themselves been bereaved.\n'
            '\n'
            'The Compassionate Friends provides support in two ways; an online community forum with other people affected by the loss of a child, and their helpline which is staffed by bereaved parents.\n'
            '\n'
            'The Miscarriage Association provide online peer support for those who have experienced miscarriage, ectopic or molar pregnancy. These are through their forums and Facebook groups.\n'
            '\n'
            'The West London Sands group (part of the Stillbirth and Neonatal Death charity) provide peer support for bereaved parents, their families and friends.\n'
        ),
    },
    {
        "heading": 'By any other name...',
        "body": (
            "The Side by Side programme exists to expand, promote and create research about mental health peer support. However not all communities or individuals use or associate themselves with the term 'mental health.'\n"
            '\n'
            "We use this term to cover emotional health and mental wellbeing, and the term 'mental health difficulties' includes experience of mental / emotional distress.\n"
            '\n'
            "Unfortunately stigma still exists around the idea of 'mental illness' and even 'mental health,' especially in certain communities where there isn't so much recent history of breaking the taboos and stigma as we've been lucky to have in the UK.\n"
            '\n'
            "Mental health is a spectrum we're all on, with mental illness at one end. To experience mental ill health does not necessarily suggest that someone has been or will continue to be profoundly unwell, but it does also include these people.\n"
            '\n'
            "In certain languages, the words don't even exist for terms we have in English, such as 'stress' which can be used along the middle of the mental health-illness spectrum.\n"
            '\n'
            "For this reason, some communities wouldn't necessarily refer to or promote the peer support they offer as 'mental health' peer support, but we still recognise it as such and are sensitive to the fact that the terminology and names of groups might be different.\n"
        ),
    },
    {
        "heading": 'Peer support stories',
        "body": (
            "We are still looking for real-life stories of people who have experience of peer support, whether that's receiving peer support or providing peer support to others.\n"
            '\n'
            "Stories are what connect people. By sharing people's stories, we can make a case for peer support and how it has helped different people in different ways, as well as emphasising how peer support can take different shapes and forms.\n"
            '\n'
            "If you'd like to share your story to strengthen the case for peer support and raise the profile of it, get in touch!\n"
            '\n'
            'We can help you to think about how much of your story you want to share and how.\n'
            '\n'
            'Contact Zoe for guidance and further information:\n'
            '\n'
            '[zoe.copeland@kcmind.org.uk](mailto:zoe.copeland@kcmind.org.uk)\n'
            '\n'
            'We look forward to hearing from you...\n'
        ),
        "cta_label": 'Share your story', "cta_url": '{base}/stories/new',
    },
    {
        "heading": 'Peer support news',
        "body": (
            '**Elefriends doing the rounds** ~ The well-known online medical resource website [www.patient.info](http://www.patient.info) now features an article about Elefriends and how it differs from other mental health communities. Read it here.\n'
            '\n'
            '**Peerfest 2016** ~ The deadline for submitting tender applications to run Peerfest this year has passed. Good luck to all who applied!\n'
            '\n'
            'We look forward to an update next month as to who will be hosting Peerfest 2016 ~ watch this space...\n'
            '\n'
            "**Peri-natal peer support** ~ In March The National Childbirth Trust (NCT) announced an initiative to set up peer support to improve mothers' perinatal mental health.\n"
            '\n'
            "It is a scheme funded by the Department of Health's Innovation, Excellence and Strategic Development Fund, whereby NCT team up with the Institute of Health Visitors. Read their article here.\n"
            '\n'
            "**NHS Choices website** ~ The NHS Choices website now details Peer Support as a means of support under 'Stress, Anxiety and Depression.' See the page here.\n"
            '\n'
            '**Peer Supported Open Dialogue Conference** ~ This conference took place in April, focusing on the use of Peer Support in the Open Dialogue approach. Watch a video of the highlights here.\n'
        ),
    },
]


def seed() -> dict:
    """The demo issue as a draft, with the story and diary sections drawn from those capabilities."""
    base = get_settings().public_base_url
    sections = [{"kind": "text", "image_url": "", "image_alt": "", "cta_label": "", "cta_url": "",
                 **section, "cta_url": section.get("cta_url", "").format(base=base)} for section in SECTIONS]
    stories_at = next(i for i, s in enumerate(sections) if s["heading"] == "Peer support stories")
    sections[stories_at + 1:stories_at + 1] = [{"kind": "story", "heading": "", "story_id": story_id}
                                               for story_id in _shared_story_ids()]
    sections.append({"kind": "diary", "heading": "Dates for the diary"})
    issue = issues.parse_issue({"title": "Spotlight on parents", "date": "2026-12-01",
                                "introduction": INTRODUCTION, "sections": sections})
    return issues.create(issue, by="demo")


def _shared_story_ids() -> list[str]:
    from chalicelib import stories

    return [story.story_id for story in stories.shareable_for("newsletter")[:2]]
